"""Operator reports: energy and revenue per site and day, uptime and utilisation per charge
point (NEVI-style: the share of time a port could charge), failed-start rate; JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from sigecve.db.reports import ReportRepository
from sigecve.db.repositories import Repositories
from sigecve.services.errors import InvalidInput

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)


class ReportName(StrEnum):
    energy = "energy"
    revenue = "revenue"
    uptime = "uptime"
    failed_starts = "failed-starts"


class EnergyRow(BaseModel):
    site_id: str | None
    day: date
    sessions: int
    energy_kwh: float
    price_per_kwh: float | None = Field(description="the site's tariff; null without a site")
    revenue: float | None


class RevenueRow(BaseModel):
    site_id: str | None
    sessions: int
    energy_kwh: float
    price_per_kwh: float | None
    revenue: float | None


class UptimeRow(BaseModel):
    charge_point_id: str
    site_id: str | None
    observed_hours: float = Field(description="time with a known connector status, summed")
    uptime: float | None = Field(description="share of observed time able to charge (0-1)")
    utilisation: float | None = Field(description="share of observed time in use (0-1)")
    faults: int = Field(description="times a connector went Faulted in the period")


class FailedStartRow(BaseModel):
    charge_point_id: str
    site_id: str | None
    starts: int
    failed_starts: int
    failed_start_rate: float | None


ReportRow = EnergyRow | RevenueRow | UptimeRow | FailedStartRow


class Report(BaseModel):
    report: ReportName
    start: datetime
    end: datetime
    site_id: str | None = None
    rows: list[EnergyRow] | list[RevenueRow] | list[UptimeRow] | list[FailedStartRow]


def report_period(start: datetime | None, end: datetime | None, now: datetime) -> tuple:
    """[start, end) of a report: defaults to the 30 days up to now; end capped at now (pure)."""
    # Checked first: a naive time cannot be compared with now (that was a 500).
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name}: give a time zone (e.g. 2026-11-01T00:00:00Z)")
    end = min(end or now, now)
    start = start or end - DEFAULT_PERIOD
    if start >= end:
        raise InvalidInput("start: must be before end (and before now)")
    if end - start > MAX_PERIOD:
        raise InvalidInput(f"end: a report covers at most {MAX_PERIOD.days} days")
    return start, end


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


async def build_report(
    repos: Repositories,
    name: ReportName,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    site_id: str | None = None,
    now: datetime | None = None,
) -> Report:
    start, end = report_period(start, end, now or datetime.now(UTC))
    queries = ReportRepository(repos.pool)
    rows: list
    if name is ReportName.energy:
        rows = [EnergyRow(**r) for r in await queries.energy_by_site_day(start, end, site_id)]
    elif name is ReportName.revenue:
        rows = revenue_rows(
            [EnergyRow(**r) for r in await queries.energy_by_site_day(start, end, site_id)]
        )
    elif name is ReportName.uptime:
        rows = [
            UptimeRow(
                charge_point_id=r["charge_point_id"],
                site_id=r["site_id"],
                observed_hours=round(r["observed_s"] / 3600, 3),
                uptime=_share(r["up_s"], r["observed_s"]),
                utilisation=_share(r["busy_s"], r["observed_s"]),
                faults=r["faults"],
            )
            for r in await queries.uptime_by_charge_point(start, end, site_id)
        ]
    else:
        rows = [
            FailedStartRow(**r, failed_start_rate=_share(r["failed_starts"], r["starts"]))
            for r in await queries.starts_by_charge_point(start, end, site_id)
        ]
    return Report(report=name, start=start, end=end, site_id=site_id, rows=rows)


def revenue_rows(days: list[EnergyRow]) -> list[RevenueRow]:
    """Per-site totals of the per-day rows; revenue is the total energy at the site's tariff,
    not a sum of rounded daily amounts (pure)."""
    totals: dict[str | None, RevenueRow] = {}
    for d in days:
        row = totals.setdefault(
            d.site_id,
            RevenueRow(
                site_id=d.site_id,
                sessions=0,
                energy_kwh=0,
                price_per_kwh=d.price_per_kwh,
                revenue=None,
            ),
        )
        row.sessions += d.sessions
        row.energy_kwh = round(row.energy_kwh + d.energy_kwh, 3)
    for row in totals.values():
        if row.price_per_kwh is not None:
            row.revenue = round(row.energy_kwh * row.price_per_kwh, 2)
    return list(totals.values())


def report_csv(report: Report) -> str:
    """The report's rows as CSV with a header line (pure)."""
    out = io.StringIO()
    fields = list(_row_model(report.report).model_fields)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow(row.model_dump(mode="json"))
    return out.getvalue()


def _row_model(name: ReportName) -> type[BaseModel]:
    return {
        ReportName.energy: EnergyRow,
        ReportName.revenue: RevenueRow,
        ReportName.uptime: UptimeRow,
        ReportName.failed_starts: FailedStartRow,
    }[name]
