"""The device model as operators read and query it, and as chargers' reports fill it in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.device_model import (
    Variable,
    parse_condition,
    report_complete,
    split_key,
    value_problem,
    variables_from_report,
)
from sigecve.services.errors import InvalidInput, NotFound
from sigecve.services.pagination import paginate

WHERE_DESCRIPTION = "`Component.Variable=Value` (a 1.6 `Key=Value`), repeated: every one must hold"
# A report none of whose parts came for this long after the last (or after it was asked
# for) is not coming: shown as incomplete, with the parts that did come kept.
REPORT_STALL_S = 300.0


class DeviceModelReport(BaseModel):
    request_id: int
    requested: str | None = Field(description="the report base asked for; null: unasked")
    requested_at: datetime | None
    parts_received: int
    last_part_at: datetime | None
    state: Literal["requested", "receiving", "complete", "incomplete"] = Field(
        description="incomplete: no part for 5 minutes and some still missing (what came is kept)"
    )


class DeviceModel(BaseModel):
    charge_point_id: str
    variables: list[Variable]
    reports: list[DeviceModelReport] = Field(description="the latest reports, newest first")


class VariableMatch(BaseModel):
    charge_point_id: str
    vendor: str | None
    model: str | None
    firmware_version: str | None
    ocpp_protocol: str | None
    values: dict[str, str | None] = Field(description="the values the conditions named")


class VariableMatchPage(BaseModel):
    items: list[VariableMatch]
    next_cursor: str | None


def _report_state(row: dict, now: datetime) -> DeviceModelReport:
    complete = report_complete(row["parts"], row["last_seq_no"])
    last = row["last_part_at"] or row["requested_at"]
    if complete:
        state = "complete"
    elif last is not None and now - last > timedelta(seconds=REPORT_STALL_S):
        state = "incomplete"
    else:
        state = "receiving" if row["parts"] else "requested"
    return DeviceModelReport(
        request_id=row["request_id"],
        requested=row["requested"],
        requested_at=row["requested_at"],
        parts_received=len(row["parts"]),
        last_part_at=row["last_part_at"],
        state=state,
    )


async def record_report_part(repos: Repositories, charge_point_id: str, part: dict) -> None:
    """One NotifyReport part (camelCase, as the charger sent it): its variables stored at
    once (whatever order the parts come in), the report's completeness noted."""
    at = datetime.fromisoformat(part["generatedAt"].replace("Z", "+00:00"))
    await repos.device_model.store(
        charge_point_id, variables_from_report(part.get("reportData") or []), at
    )
    row = await repos.device_model.report_part(
        charge_point_id,
        part["requestId"],
        part["seqNo"],
        not part.get("tbc", False),
        datetime.now(UTC),  # when it came: a stalled report is told by our clock, not its
    )
    if report_complete(row["parts"], row["last_seq_no"]) and row["completed_at"] is None:
        await repos.device_model.report_completed(charge_point_id, part["requestId"])


async def device_model_of(repos: Repositories, charge_point_id: str) -> DeviceModel:
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    now = datetime.now(UTC)
    return DeviceModel(
        charge_point_id=charge_point_id,
        variables=await repos.device_model.variables_of(charge_point_id),
        reports=[
            _report_state(r, now) for r in await repos.device_model.reports_of(charge_point_id)
        ],
    )


async def check_change(repos: Repositories, charge_point_id: str, key: str, value: str) -> None:
    """InvalidInput if the stored device model says the charger cannot take `value` for
    `key` (read-only, wrong type, out of its limits, not one of its values). A variable not
    reported yet is not checked: the charger's answer decides."""
    component, variable = split_key(key)
    stored = [
        v
        for v in await repos.device_model.variables_of(charge_point_id, component, variable)
        if v.evse_id == 0 and not v.component_instance and not v.variable_instance
    ]
    if stored and (problem := value_problem(stored[0], value)) is not None:
        raise InvalidInput(problem)


async def find_charge_points(
    repos: Repositories,
    where: list[str],
    *,
    firmware_version: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> VariableMatchPage:
    """Charge points whose stored values meet every `Component.Variable=Value` (a 1.6
    `Key=Value`), and the firmware version if given."""
    if not where and firmware_version is None:
        raise InvalidInput("give at least one condition (where=Component.Variable=Value)")
    try:
        conditions = [parse_condition(c) for c in where]
    except ValueError as e:
        raise InvalidInput(str(e)) from e

    async def fetch(**page) -> list[VariableMatch]:
        rows = await repos.device_model.find(conditions, firmware_version=firmware_version, **page)
        return [
            VariableMatch(
                charge_point_id=r["id"],
                vendor=r["vendor"],
                model=r["model"],
                firmware_version=r["firmware_version"],
                ocpp_protocol=r["ocpp_protocol"],
                values=r["values"],
            )
            for r in rows
        ]

    items, next_cursor = await paginate(
        fetch,
        repos.device_model,
        sort="charge_point_id",
        cursor=cursor,
        limit=limit,
        id_attr="charge_point_id",
    )
    return VariableMatchPage(items=items, next_cursor=next_cursor)
