"""Model-predictive (receding-horizon) smart charging: plan with what is known now, apply the
first slot, plan again next slot.

The online scheduler knows a session only once the EV has arrived, and does not know when it
will leave: it plans with an estimated departure (a per-site default dwell, conservative so
that energy is delivered early rather than promised late) and re-plans every slot.
"""

from __future__ import annotations

import time

import numpy as np

from sigecve.smart_charging.planner import optimal_powers
from sigecve.smart_charging.scenario import ChargePointSpec, Scenario, SessionSpec


def next_slot_powers(
    s: Scenario,
    now: int,
    remaining_kwh: np.ndarray,
    estimated_departure: list[int],
    departure_known: list[bool] | None = None,
    expected: list[SessionSpec] | None = None,
) -> np.ndarray:
    """Power per session for slot `now`, planning over [now, horizon) with the sessions that
    are present and still need energy, each until its estimated departure. Sessions whose
    departure is only estimated are charged as early as possible; those whose departure is
    known (the driver said, or the EV) may wait for cheaper slots.

    `expected` are sessions forecast to arrive later (slots from the scenario's start), on
    charge points of their own: the plan keeps room for them, so that an EV waiting for a
    cheap slot does not find it taken by arrivals nobody planned for."""
    known = departure_known or [False] * len(s.sessions)
    coming = [
        x.model_copy(
            update={
                "id": f"expected-{x.id}",
                "charge_point_id": f"expected-{x.id}",
                "arrival_slot": x.arrival_slot - now,
                "departure_slot": min(x.departure_slot, s.horizon_slots) - now,
            }
        )
        for x in expected or []
        if now < x.arrival_slot < s.horizon_slots
    ]
    present = [
        i
        for i, x in enumerate(s.sessions)
        if x.arrival_slot <= now < x.departure_slot and remaining_kwh[i] > 1e-6
    ]
    powers = np.zeros(len(s.sessions))
    if not present:
        return powers
    horizon = s.horizon_slots - now
    by_slot = [s.site_limit(t) for t in range(now, s.horizon_slots)]
    window = s.model_copy(
        update={
            "horizon_slots": horizon,
            "prices": s.prices[now:],
            "site": s.site.model_copy(update={"max_power_kw_by_slot": by_slot}),
            "charge_points": s.charge_points
            + [ChargePointSpec(id=x.charge_point_id, max_power_kw=x.max_power_kw) for x in coming],
            "sessions": [
                SessionSpec(
                    id=s.sessions[i].id,
                    charge_point_id=s.sessions[i].charge_point_id,
                    arrival_slot=0,
                    departure_slot=max(1, min(estimated_departure[i], s.horizon_slots) - now),
                    energy_kwh=float(remaining_kwh[i]),
                    max_power_kw=s.sessions[i].max_power_kw,
                    min_power_kw=s.sessions[i].min_power_kw,
                )
                for i in present
            ]
            + coming,
        }
    )
    planned = optimal_powers(
        window,
        minimise_peak=False,
        prefer_early=[not known[i] for i in present] + [False] * len(coming),
        balance_first_slot=True,
    )
    powers[present] = planned[: len(present), 0]
    return powers


def receding_horizon(
    s: Scenario,
    dwell_estimate_slots: int,
    departure_known: list[bool] | None = None,
    expected: list[SessionSpec] | None = None,
    replan_seconds: list[float] | None = None,
    predicted_departure: list[int] | None = None,
    may_wait: list[bool] | None = None,
) -> np.ndarray:
    """Run the online scheduler through the scenario as it unfolds; powers [session, slot].
    Sessions with `departure_known` tell their real departure on arrival; the others are
    planned until their `predicted_departure` (a slot, e.g. `departures.predict_departure`'s)
    if given, else with the estimated dwell, charged as early as possible unless `may_wait`
    (a confident guess). `expected`: the forecast of arrivals (see `next_slot_powers`), e.g.
    the same day of the site's history. `replan_seconds`, if given, gets the time of each
    re-plan."""
    n = len(s.sessions)
    known = departure_known or [False] * n
    wait = [k or w for k, w in zip(known, may_wait or [False] * n, strict=True)]
    remaining = np.array([x.energy_kwh for x in s.sessions], dtype=float)
    powers = np.zeros((n, s.horizon_slots))
    for now in range(s.horizon_slots):
        # Still here past the estimate: expect it to stay one more slot at least.
        estimate = [
            x.departure_slot
            if k
            else max(
                predicted_departure[i]
                if predicted_departure
                else x.arrival_slot + dwell_estimate_slots,
                now + 1,
            )
            for i, (x, k) in enumerate(zip(s.sessions, known, strict=True))
        ]
        started = time.perf_counter()
        powers[:, now] = next_slot_powers(s, now, remaining, estimate, wait, expected)
        if replan_seconds is not None:
            replan_seconds.append(time.perf_counter() - started)
        remaining -= powers[:, now] * s.slot_hours
    return powers
