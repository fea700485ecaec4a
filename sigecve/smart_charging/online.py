"""Model-predictive (receding-horizon) smart charging: plan with what is known now, apply the
first slot, plan again next slot.

The online scheduler knows a session only once the EV has arrived, and does not know when it
will leave: it plans with an estimated departure (a per-site default dwell, conservative so
that energy is delivered early rather than promised late) and re-plans every slot.
"""

from __future__ import annotations

import numpy as np

from sigecve.smart_charging.planner import optimal_powers
from sigecve.smart_charging.scenario import Scenario, SessionSpec


def next_slot_powers(
    s: Scenario, now: int, remaining_kwh: np.ndarray, estimated_departure: list[int]
) -> np.ndarray:
    """Power per session for slot `now`, planning over [now, horizon) with the sessions that
    are present and still need energy, each until its estimated departure."""
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
            ],
        }
    )
    planned = optimal_powers(
        window, minimise_peak=False, prefer_early=True, balance_first_slot=True
    )
    powers[present] = planned[:, 0]
    return powers


def receding_horizon(s: Scenario, dwell_estimate_slots: int) -> np.ndarray:
    """Run the online scheduler through the scenario as it unfolds; powers [session, slot]."""
    remaining = np.array([x.energy_kwh for x in s.sessions], dtype=float)
    powers = np.zeros((len(s.sessions), s.horizon_slots))
    for now in range(s.horizon_slots):
        # Still here past the estimate: expect it to stay one more slot at least.
        estimate = [max(x.arrival_slot + dwell_estimate_slots, now + 1) for x in s.sessions]
        powers[:, now] = next_slot_powers(s, now, remaining, estimate)
        remaining -= powers[:, now] * s.slot_hours
    return powers
