"""Why a session of a plan gets less than it asked for (pure): the first of these that holds.

- `minimum_above_limit`: its minimum power is above what its EV or charge point can take;
- `window`: its window (inside the horizon) at its power limit holds less than it asked;
- `site_limit`: in every slot of its window where it charges below its limit, the site is
  at its limit (the others' energy, by priority then price, filled it);
- `charge_point_shared`: the same, with a charge point it shares with another session full;
- `minimum_power`: its minimum power kept it out of slots with some room left but less than
  the minimum (or out of a slot to keep another session's minimum);
- `priority`: otherwise (room is left, but the plan preferred the same kWh elsewhere: ties
  of value).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from sigecve.smart_charging.scenario import Scenario

TOLERANCE_KWH = 1e-3


def shortfall_reasons(s: Scenario, powers: np.ndarray) -> list[str | None]:
    """A reason per session, None for those that get what they asked (within 1 Wh)."""
    h = s.slot_hours
    limits = np.array([s.site_limit(t) for t in range(s.horizon_slots)])
    site_load = powers.sum(axis=0) if len(s.sessions) else np.zeros(s.horizon_slots)
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    cp_load: dict[str, np.ndarray] = {}
    cp_members: Counter[str] = Counter()
    for i, x in enumerate(s.sessions):
        cp_load.setdefault(x.charge_point_id, np.zeros(s.horizon_slots))
        cp_load[x.charge_point_id] += powers[i]
        cp_members[x.charge_point_id] += 1
    delivered = powers.sum(axis=1) * h if len(s.sessions) else np.zeros(0)
    reasons: list[str | None] = []
    for i, x in enumerate(s.sessions):
        if delivered[i] >= x.energy_kwh - TOLERANCE_KWH:
            reasons.append(None)
            continue
        cap = min(x.max_power_kw, cp_max[x.charge_point_id])
        window = np.arange(
            min(x.arrival_slot, s.horizon_slots), min(x.departure_slot, s.horizon_slots)
        )
        if x.min_power_kw and x.min_power_kw > cap:
            reasons.append("minimum_above_limit")
        elif cap * h * len(window) < x.energy_kwh - TOLERANCE_KWH:
            reasons.append("window")
        else:
            below = window[powers[i, window] < cap - 1e-6]
            site_full = site_load[below] >= limits[below] - 1e-6
            cp_full = cp_load[x.charge_point_id][below] >= cp_max[x.charge_point_id] - 1e-6
            if site_full.all():
                reasons.append("site_limit")
            elif (site_full | cp_full).all() and cp_members[x.charge_point_id] > 1:
                reasons.append("charge_point_shared")
            elif x.min_power_kw:
                reasons.append("minimum_power")
            else:
                reasons.append("priority")
    return reasons
