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
from sigecve.domain import PlannedPower, SessionDefaults, Site, SitePlan
from sigecve.ocpp.timestamps import format_timestamp, utc_now
from sigecve.services.commands import ChargePointDirectory
from sigecve.smart_charging import v2g
from sigecve.smart_charging.baselines import equal_share
from sigecve.smart_charging.departures import (
    DepartureHistory,
    DeparturePrediction,
    PastSession,
    predict_departure,
)
from sigecve.smart_charging.explain import power_reasons
from sigecve.smart_charging.planner import PlanningError, optimal_powers
from sigecve.smart_charging.profiles import (
    composite_limit,
    composite_schedule_request,
    rate_limit,
    tx_profile_16,
    tx_profile_21,
    tx_profile_201,
)
from sigecve.smart_charging.scenario import Scenario

log = logging.getLogger(__name__)

SLOT_MINUTES = 15
HORIZON_SLOTS = 96
# What a session without a known demand is planned for, until the site has a history: a
# typical need and stay. With one, the medians of its recent sessions.
DEFAULTS = SessionDefaults(target_energy_kwh=30.0, dwell_minutes=240.0, source="default")
HISTORY = timedelta(days=30)
DEPARTURE_HISTORY = timedelta(days=28)  # four of each weekday: a driver's habit
MIN_HISTORY_SESSIONS = 5
DEFAULTS_TTL = timedelta(hours=1)
MIN_SESSION_WH = 10  # a session that delivered less did not really charge
PROFILE_TIMEOUT_S = 10.0
VERIFY_TOLERANCE = 0.01  # a composite limit within 1 % (rounding, unit conversion) matches


def learned_defaults(history: dict[str, Any]) -> SessionDefaults:
    """The site's own typical session from its recent history, or the global defaults when
    it has too little of one (pure)."""
    if history["sessions"] < MIN_HISTORY_SESSIONS:
        return DEFAULTS.model_copy(update={"sessions_seen": history["sessions"]})
    return SessionDefaults(
        target_energy_kwh=round(min(max(history["median_kwh"], 1.0), 200.0), 3),
        dwell_minutes=round(
            min(max(history["median_minutes"], SLOT_MINUTES), SLOT_MINUTES * HORIZON_SLOTS), 1
        ),
        source="site history",
        sessions_seen=history["sessions"],
    )


# A reading this far from the plan (a share of it, and at least this many kW) is a drift.
DRIFT_SHARE = 0.2
DRIFT_MIN_KW = 1.0
# A reading is judged against a charger's power only this long after the charger accepted it:
# IEC 61851-1 gives an EV 5 s to follow a new limit, and a reading sampled under the old one
# may still be on its way.
SETTLE = timedelta(seconds=10)


def session_key(charge_point_id: str, transaction_id: int | str) -> tuple[str, str]:
    """A session by its charge point and the charger's transaction id (1.6: an int, 2.0.1: a
    string; meter values and the database give either)."""
    return charge_point_id, str(transaction_id)


def ev_ceiling_after(
    planned_kw: float, measured_kw: float, ceiling_kw: float | None
) -> tuple[float | None, bool]:
    """What an EV is now believed able to draw (None: what it declared), and whether the site
    must re-plan, after a power reading (pure).

    An EV drawing well below its planned power is tapering (its battery is nearly full) or
    limited on board: it is planned at what it draws, with headroom, and the power it leaves
    goes to the others. Once it presses against that ceiling, the ceiling goes. A charger
    drawing well above the plan is not following its profile: re-planning sends it again.
    """
    if ceiling_kw is not None:
        if measured_kw >= 0.97 * ceiling_kw:
            return None, True
        return ceiling_kw, False
    if measured_kw < planned_kw * (1 - DRIFT_SHARE) - DRIFT_MIN_KW:
        return measured_kw + max(0.1 * measured_kw, 0.5), True
    return None, measured_kw > planned_kw * (1 + DRIFT_SHARE) + DRIFT_MIN_KW


FORECAST_LAG = timedelta(days=1)  # tomorrow's arrivals are expected to be today's


def expected_arrivals(
    history: list[dict[str, Any]], now: datetime, defaults: SessionDefaults
) -> list[dict[str, Any]]:
    """The sessions expected to arrive within the horizon: those the site had a day earlier,
    a day later (pure). Planning keeps room for them, so that an EV waiting for a cheap slot
    does not find it taken by arrivals nobody planned for."""
    slot_s = SLOT_MINUTES * 60
    expected = []
    for i, row in enumerate(history):
        arrival = row["started_at"] + FORECAST_LAG
        if not now < arrival < now + timedelta(minutes=SLOT_MINUTES * HORIZON_SLOTS):
            continue
        stopped = row["stopped_at"] or row["started_at"] + timedelta(minutes=defaults.dwell_minutes)
        first = int(-(-(arrival - now).total_seconds() // slot_s))
        last = int(-(-(stopped + FORECAST_LAG - now).total_seconds() // slot_s))
        if first >= HORIZON_SLOTS:
            continue
        expected.append(
            {
                "id": f"expected-{i}",
                "charge_point_id": f"expected-{i}",
                "arrival_slot": first,
                "departure_slot": min(max(last, first + 1), HORIZON_SLOTS),
                "energy_kwh": float(row["energy_kwh"]),
                "max_power_kw": float(row["cp_max_power_kw"]),
            }
        )
    return expected


def matches(limit_in_force: float | None, planned: float) -> bool:
    """Whether the limit a charger reports in force is the one planned (pure)."""
    if limit_in_force is None:
        return False
    return abs(limit_in_force - planned) <= max(0.1, VERIFY_TOLERANCE * planned)


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


def site_scenario(
    site: Site,
    sessions: list[dict[str, Any]],
    now: datetime,
    defaults: SessionDefaults = DEFAULTS,
    ev_ceilings: dict[tuple[str, str], float] | None = None,
    expected: list[dict[str, Any]] | None = None,
    guesses: dict[Any, DeparturePrediction] | None = None,
) -> Scenario:
    """The planning problem from now on for the site's open transactions (pure), followed by
    the `expected` arrivals (each on a charge point of its own).

    A session's target energy, departure, EV limit and priority come from its demand (the
    EV's NotifyEVChargingNeeds or the driver) where known; else its departure is its guess
    in `guesses` (by session id) and the rest from `defaults`; an EV seen drawing less than
    it was given is planned at its ceiling (by charge point and the charger's transaction
    id). A session still there past its guessed departure is planned to leave within a slot.
    """
    guesses = guesses or {}
    expected = expected or []
    ceilings = ev_ceilings or {}

    def ev_limit_kw(s: dict[str, Any]) -> float:
        declared = s.get("ev_max_power_kw") or s["cp_max_power_kw"]
        ceiling = ceilings.get(session_key(s["charge_point_id"], s["ocpp_id"]))
        return declared if ceiling is None else min(declared, ceiling)

    slot_s = SLOT_MINUTES * 60
    dwell_slots = round(defaults.dwell_minutes / SLOT_MINUTES)

    def departure_slot(s: dict[str, Any]) -> int:
        departure = s.get("departure_at")
        if departure is None and s["id"] in guesses:
            departure = guesses[s["id"]].departure_at
        if departure is not None:
            slots = int(-(-(departure - now).total_seconds() // slot_s))  # ceiling
        else:
            slots = dwell_slots - int((now - s["started_at"]).total_seconds() // slot_s)
        return min(max(1, slots), HORIZON_SLOTS)

    def target_kwh(s: dict[str, Any]) -> float:
        target = s.get("target_energy_kwh")
        return defaults.target_energy_kwh if target is None else target

    def v2x(s: dict[str, Any]) -> dict[str, Any]:
        """A 2.1 EV's discharge capability, relative to now, when it told its departure (V2G
        never plays with the charge of a driver who may leave any minute)."""
        capability = s.get("v2x")
        if not capability or s["protocol"] != "ocpp2.1" or s.get("departure_at") is None:
            return {}
        delivered = (s["energy_wh"] or 0) / 1000
        headroom = capability.get("max_energy_kwh")
        return {
            "max_discharge_kw": min(capability["max_discharge_kw"], s["cp_max_power_kw"]),
            "v2x_min_kwh": min(capability.get("v2x_min_kwh", 0.0) - delivered, 0.0),
            "max_energy_kwh": None if headroom is None else max(headroom - delivered, 0.0),
        }

    prices = values_by_slot(
        [(x.starts_at, x.price_per_kwh) for x in site.price_schedule], site.price_per_kwh, now
    )
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
                "max_export_kw": site.max_export_kw,
            },
            "prices": prices,
            # what exports earn, never more than the price in force (the scenario's rule)
            "export_prices": [min(site.export_price_per_kwh, p) for p in prices],
            "battery_wear_cost_per_kwh": site.battery_wear_cost_per_kwh,
            "charge_points": [
                {"id": cp, "max_power_kw": kw}
                for cp, kw in {s["charge_point_id"]: s["cp_max_power_kw"] for s in sessions}.items()
            ]
            + [{"id": x["charge_point_id"], "max_power_kw": x["max_power_kw"]} for x in expected],
            "sessions": [
                {
                    "id": str(s["id"]),
                    "charge_point_id": s["charge_point_id"],
                    "arrival_slot": 0,
                    "departure_slot": departure_slot(s),
                    "energy_kwh": max(0.0, target_kwh(s) - (s["energy_wh"] or 0) / 1000),
                    "max_power_kw": ev_limit_kw(s),
                    "priority": s.get("priority") or 1,
                    **v2x(s),
                }
                for s in sessions
            ]
            + expected,
        }
    )


def first_slot_powers(scenario: Scenario, may_wait: list[bool]) -> tuple[np.ndarray, str]:
    """Power for the coming slot of the first `len(may_wait)` sessions (the open ones;
    expected arrivals follow them): the optimiser's, or an equal share of the site limit when
    it cannot solve. Sessions that `may_wait` (a departure told or confidently guessed) may
    wait for cheaper slots; the others are charged as early as possible."""
    n = len(may_wait)
    expected = len(scenario.sessions) - n
    early = [not wait for wait in may_wait] + [False] * expected
    try:
        if scenario.bidirectional:  # net power: < 0 while an EV gives energy back
            charge, give = v2g.powers(scenario, minimise_peak=False, prefer_early=early)
            return (charge - give)[:n, 0], "optimal"
        powers = optimal_powers(
            scenario,
            minimise_peak=False,
            prefer_early=early,
            balance_first_slot=True,
        )
        return powers[:n, 0], "optimal"
    except (PlanningError, v2g.V2GError) as e:
        log.warning("%s: planning failed (%s); equal share", scenario.name, e)
        return equal_share(scenario)[:n, 0], "fallback_equal_share"


class SiteScheduler:
    def __init__(
        self,
        repos: Repositories,
        directory: ChargePointDirectory,
        site_id: str,
    ):
        self.repos = repos
        self.directory = directory
        self.site_id = site_id
        self.last_plan: SitePlan | None = None
        self._lock = asyncio.Lock()
        self._defaults: tuple[datetime, SessionDefaults] | None = None
        self._history: tuple[datetime, list[dict[str, Any]]] | None = None
        self._departure_history: tuple[datetime, DepartureHistory] | None = None
        # EVs seen drawing less than planned: (charge point, charger's transaction id) -> kW.
        self.ev_ceilings: dict[tuple[str, str], float] = {}
        # The power each charger accepted for a session, and when: what its readings show.
        self._in_force: dict[tuple[str, str], tuple[float, datetime]] = {}

    async def forecast_history(self, now: datetime) -> list[dict[str, Any]]:
        """The sessions of the last day (the forecast's source), re-read at most hourly."""
        if self._history is None or now - self._history[0] > DEFAULTS_TTL:
            rows = await self.repos.sites.sessions_started_between(
                self.site_id, now - FORECAST_LAG, now
            )
            self._history = (now, rows)
        return self._history[1]

    def profile_sent(self, charge_point_id: str, transaction_id: int | str) -> None:
        """A new power is on its way to a session's charger: its readings wait for it."""
        self._in_force.pop(session_key(charge_point_id, transaction_id), None)

    def profile_accepted(
        self, charge_point_id: str, transaction_id: int | str, kw: float, at: datetime
    ) -> None:
        """A charger accepted `kw` for a session at `at`: its readings are judged against it."""
        self._in_force[session_key(charge_point_id, transaction_id)] = (kw, at)

    def power_observed(
        self, charge_point_id: str, transaction_id: int | str, kw: float, at: datetime
    ) -> bool:
        """Take a session's power measured at `at` into account; True when the site should
        re-plan.

        A reading counts only once the power its charger accepted has settled, and not while a
        new one is on its way: judged against a plan being replaced, or a limit the EV has not
        followed yet, a session that just got less would look like an EV unable to draw more
        (and be held there)."""
        key = session_key(charge_point_id, transaction_id)
        in_force = self._in_force.get(key)
        # A discharging EV is not judged by what it imports (a CSMS reading import only).
        if in_force is None or at - in_force[1] < SETTLE or in_force[0] < 0:
            return False
        ceiling, replan = ev_ceiling_after(in_force[0], kw, self.ev_ceilings.get(key))
        if ceiling is None:
            self.ev_ceilings.pop(key, None)
        else:
            self.ev_ceilings[key] = ceiling
        return replan

    async def departure_history(self, now: datetime) -> DepartureHistory:
        """The site's finished sessions of the last `DEPARTURE_HISTORY` (who stayed how long),
        re-read at most hourly."""
        if self._departure_history is None or now - self._departure_history[0] > DEFAULTS_TTL:
            rows = await self.repos.sites.finished_sessions(self.site_id, now - DEPARTURE_HISTORY)
            history = DepartureHistory(
                [PastSession(r["id_tag"], r["started_at"], r["stopped_at"]) for r in rows]
            )
            self._departure_history = (now, history)
        return self._departure_history[1]

    async def defaults(self, now: datetime) -> SessionDefaults:
        """The site's learned session defaults, recomputed at most once an hour."""
        if self._defaults is None or now - self._defaults[0] > DEFAULTS_TTL:
            history = await self.repos.sites.typical_session(
                self.site_id, now - HISTORY, MIN_SESSION_WH
            )
            self._defaults = (now, learned_defaults(history))
        return self._defaults[1]

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
        plan.defaults = await self.defaults(now)
        open_sessions = {session_key(r["charge_point_id"], r["ocpp_id"]) for r in sessions}
        self.ev_ceilings = {k: v for k, v in self.ev_ceilings.items() if k in open_sessions}
        self._in_force = {k: v for k, v in self._in_force.items() if k in open_sessions}
        expected = expected_arrivals(await self.forecast_history(now), now, plan.defaults)
        plan.expected_arrivals = len(expected)
        history = await self.departure_history(now)
        guesses = {
            row["id"]: predict_departure(
                history, row["id_tag"], row["started_at"], plan.defaults.dwell_minutes
            )
            for row in sessions
            if row.get("departure_at") is None
        }
        scenario = site_scenario(
            site, sessions, now, plan.defaults, self.ev_ceilings, expected, guesses
        )
        # A told departure, or a confident guess of one, may wait for cheaper slots; not a
        # session whose driver or operator said "charge now".
        may_wait = [
            not row.get("charge_now")
            and (row.get("departure_at") is not None or guesses[row["id"]].confidence == "high")
            for row in sessions
        ]
        # Off the event loop: other sites' schedulers share this process.
        powers, plan.solver = await asyncio.to_thread(first_slot_powers, scenario, may_wait)
        reasons = power_reasons(scenario, [float(kw) for kw in powers], may_wait, now)
        plan.sessions = await asyncio.gather(
            *(
                self._send(row, float(kw), guesses.get(row["id"]), reason)
                for row, kw, reason in zip(sessions, powers, reasons, strict=True)
            )
        )
        return plan

    async def _send(
        self,
        row: dict[str, Any],
        power_kw: float,
        guess: DeparturePrediction | None,
        reason: str,
    ) -> PlannedPower:
        unit, phases = row["charging_rate_unit"], row["phases"]
        limit = rate_limit(power_kw, unit, phases)
        departure = row.get("departure_at") or (guess.departure_at if guess else None)
        if row["protocol"] == "ocpp1.6":
            payload = tx_profile_16(
                row["connector_id"], int(row["ocpp_id"]), row["id"], limit, unit, phases
            )
        elif row["protocol"] == "ocpp2.1":  # a discharge setpoint when the plan gives < 0
            payload = tx_profile_21(
                row["connector_id"], row["ocpp_id"], row["id"], limit, unit, phases
            )
        else:
            payload = tx_profile_201(
                row["connector_id"], row["ocpp_id"], row["id"], limit, unit, phases
            )
        planned = PlannedPower(
            charge_point_id=row["charge_point_id"],
            transaction_id=int(row["ocpp_id"]) if row["protocol"] == "ocpp1.6" else row["ocpp_id"],
            power_kw=round(power_kw, 3),
            limit=limit,
            unit=unit,
            status="",
            reason=reason,
            departure_at=format_timestamp(departure) if departure is not None else None,
            departure_guess=guess,
        )
        self.profile_sent(row["charge_point_id"], row["ocpp_id"])
        try:
            result = await self.directory.call(
                row["charge_point_id"], "SetChargingProfile", payload, PROFILE_TIMEOUT_S
            )
            planned.status = result.status
            if result.status == "Accepted":
                self.profile_accepted(
                    row["charge_point_id"], row["ocpp_id"], planned.power_kw, utc_now()
                )
                # Trust, then verify: what the charger says is in force on that connector.
                composite = await self.directory.call(
                    row["charge_point_id"],
                    "GetCompositeSchedule",
                    composite_schedule_request(row["protocol"], row["connector_id"], unit),
                    PROFILE_TIMEOUT_S,
                )
                planned.limit_in_force = composite_limit(composite.response, unit, phases)
                planned.verified = matches(planned.limit_in_force, limit)
        except Exception as e:  # reported in the plan; the next replan tries again
            planned.status = planned.status or f"failed: {type(e).__name__}: {e}"[:200]
        return planned
