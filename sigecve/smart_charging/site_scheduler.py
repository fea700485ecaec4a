"""The online smart charging of one site: plan from what is charging now, send TxProfiles.

Ray-free: the grid scheduler actor (actors/grid_scheduler.py) owns one of these per site and
calls `replan` on a timer and whenever something changes (a limit, an arrival).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from sigecve.db.repositories import Repositories
from sigecve.domain import PlannedPower, Site, SitePlan
from sigecve.ocpp.timestamps import format_timestamp, utc_now
from sigecve.services.commands import ChargePointDirectory
from sigecve.smart_charging.baselines import equal_share
from sigecve.smart_charging.planner import PlanningError, optimal_powers
from sigecve.smart_charging.profiles import rate_limit, tx_profile_16, tx_profile_201
from sigecve.smart_charging.scenario import Scenario

log = logging.getLogger(__name__)

SLOT_MINUTES = 15
HORIZON_SLOTS = 96
# What a session without a known demand is planned for: a typical need and stay.
DEFAULT_TARGET_KWH = 30.0
DEFAULT_DWELL_SLOTS = 16
PROFILE_TIMEOUT_S = 10.0


def values_by_slot(
    steps: list[tuple[datetime, float]], default: float, start: datetime
) -> list[float]:
    """The value in force at the start of each planning slot from `start`: the last step
    begun by then, else `default` (pure)."""
    ordered = sorted(steps)
    values = []
    for i in range(HORIZON_SLOTS):
        at = start + timedelta(minutes=SLOT_MINUTES * i)
        begun = [v for t, v in ordered if t <= at]
        values.append(begun[-1] if begun else default)
    return values


def site_scenario(site: Site, sessions: list[dict[str, Any]], now: datetime) -> Scenario:
    """The planning problem from now on for the site's open transactions (pure).

    A session's target energy, departure and EV limit come from its demand (the EV's
    NotifyEVChargingNeeds or the driver) where known, else from the defaults.
    """
    slot_s = SLOT_MINUTES * 60

    def departure_slot(s: dict[str, Any]) -> int:
        if s.get("departure_at") is not None:
            slots = int(-(-(s["departure_at"] - now).total_seconds() // slot_s))  # ceiling
        else:
            slots = DEFAULT_DWELL_SLOTS - int((now - s["started_at"]).total_seconds() // slot_s)
        return min(max(1, slots), HORIZON_SLOTS)

    def target_kwh(s: dict[str, Any]) -> float:
        target = s.get("target_energy_kwh")
        return DEFAULT_TARGET_KWH if target is None else target

    return Scenario.model_validate(
        {
            "name": f"{site.id}@{format_timestamp(now)}",
            "slot_minutes": SLOT_MINUTES,
            "horizon_slots": HORIZON_SLOTS,
            "site": {
                "id": site.id,
                "max_power_kw": site.max_power_kw,
                "max_power_kw_by_slot": values_by_slot(
                    [(x.starts_at, x.max_power_kw) for x in site.limit_schedule],
                    site.max_power_kw,
                    now,
                ),
            },
            "prices": values_by_slot(
                [(x.starts_at, x.price_per_kwh) for x in site.price_schedule],
                site.price_per_kwh,
                now,
            ),
            "charge_points": [
                {"id": cp, "max_power_kw": kw}
                for cp, kw in {s["charge_point_id"]: s["cp_max_power_kw"] for s in sessions}.items()
            ],
            "sessions": [
                {
                    "id": str(s["id"]),
                    "charge_point_id": s["charge_point_id"],
                    "arrival_slot": 0,
                    "departure_slot": departure_slot(s),
                    "energy_kwh": max(0.0, target_kwh(s) - (s["energy_wh"] or 0) / 1000),
                    "max_power_kw": s.get("ev_max_power_kw") or s["cp_max_power_kw"],
                }
                for s in sessions
            ],
        }
    )


def first_slot_powers(
    scenario: Scenario, departure_known: list[bool], time_limit_s: float | None = None
) -> tuple[np.ndarray, str]:
    """Power per session for the coming slot: the optimiser's, or an equal share of the site
    limit when it cannot solve (in time)."""
    try:
        powers = optimal_powers(
            scenario,
            minimise_peak=False,
            # Only sessions whose departure is a guess are charged as early as possible; the
            # others wait for cheaper slots when their departure allows.
            prefer_early=[not known for known in departure_known],
            balance_first_slot=True,
            time_limit_s=time_limit_s,
        )
        return powers[:, 0], "optimal"
    except PlanningError as e:
        log.warning("%s: planning failed (%s); equal share", scenario.name, e)
        return equal_share(scenario)[:, 0], "fallback_equal_share"


class SiteScheduler:
    def __init__(
        self,
        repos: Repositories,
        directory: ChargePointDirectory,
        site_id: str,
        time_limit_s: float | None = None,
    ):
        self.repos = repos
        self.directory = directory
        self.site_id = site_id
        self.time_limit_s = time_limit_s
        self.last_plan: SitePlan | None = None
        self._lock = asyncio.Lock()

    async def replan(self) -> SitePlan:
        async with self._lock:  # a timer tick and an operator's change must not interleave
            self.last_plan = await self._replan()
            return self.last_plan

    async def _replan(self) -> SitePlan:
        now = utc_now()
        site = await self.repos.sites.get(self.site_id)
        if site is None:
            return SitePlan(site_id=self.site_id, site_limit_kw=0.0, solver="no such site")
        sessions = await self.repos.sites.charging_sessions(self.site_id)
        plan = SitePlan(
            site_id=site.id, planned_at=format_timestamp(now), site_limit_kw=site.max_power_kw
        )
        if not site.smart_charging or not sessions:
            plan.solver = "idle" if site.smart_charging else "disabled"
            return plan
        scenario = site_scenario(site, sessions, now)
        departure_known = [row.get("departure_at") is not None for row in sessions]
        # Off the event loop: other sites' schedulers share this process.
        powers, plan.solver = await asyncio.to_thread(
            first_slot_powers, scenario, departure_known, self.time_limit_s
        )
        plan.sessions = await asyncio.gather(
            *(self._send(row, float(kw)) for row, kw in zip(sessions, powers, strict=True))
        )
        return plan

    async def _send(self, row: dict[str, Any], power_kw: float) -> PlannedPower:
        unit, phases = row["charging_rate_unit"], row["phases"]
        limit = rate_limit(power_kw, unit, phases)
        if row["protocol"] == "ocpp2.0.1":
            payload = tx_profile_201(
                row["connector_id"], row["ocpp_id"], row["id"], limit, unit, phases
            )
        else:
            payload = tx_profile_16(
                row["connector_id"], int(row["ocpp_id"]), row["id"], limit, unit, phases
            )
        try:
            result = await self.directory.call(
                row["charge_point_id"], "SetChargingProfile", payload, PROFILE_TIMEOUT_S
            )
            status = result.status
        except Exception as e:  # reported in the plan; the next replan tries again
            status = f"failed: {type(e).__name__}: {e}"[:200]
        return PlannedPower(
            charge_point_id=row["charge_point_id"],
            transaction_id=int(row["ocpp_id"]) if row["protocol"] == "ocpp1.6" else row["ocpp_id"],
            power_kw=round(power_kw, 3),
            limit=limit,
            unit=unit,
            status=status,
        )
