"""What most CSMSs do instead of optimising: the planner's fallback and benchmark baselines."""

from __future__ import annotations

import numpy as np

from sigecve.smart_charging.scenario import Scenario


def _caps(s: Scenario) -> np.ndarray:
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    return np.array([min(x.max_power_kw, cp_max[x.charge_point_id]) for x in s.sessions])


def equal_share(s: Scenario) -> np.ndarray:
    """Each slot, the site limit shared equally among the EVs present that still need energy
    (water-filling: what one cannot take goes to the others). Powers [session, slot] in kW."""
    h = s.slot_hours
    caps = _caps(s)
    remaining = np.array([x.energy_kwh for x in s.sessions], dtype=float)
    powers = np.zeros((len(s.sessions), s.horizon_slots))
    for t in range(s.horizon_slots):
        present = [
            i
            for i, x in enumerate(s.sessions)
            if x.arrival_slot <= t < x.departure_slot and remaining[i] > 1e-9
        ]
        budget = s.site_limit(t)
        want = {i: min(caps[i], remaining[i] / h) for i in present}
        while want and budget > 1e-9:
            share = budget / len(want)
            satisfied = {i: w for i, w in want.items() if w <= share}
            if not satisfied:
                for i in want:
                    powers[i, t] += share
                budget = 0.0
                break
            for i, w in satisfied.items():
                powers[i, t] += w
                budget -= w
                del want[i]
        remaining -= powers[:, t] * h
    return _respect_charge_points(s, powers)


def uncontrolled(s: Scenario) -> np.ndarray:
    """Every EV at full power from arrival until it has its energy, whatever the site limit."""
    h = s.slot_hours
    caps = _caps(s)
    powers = np.zeros((len(s.sessions), s.horizon_slots))
    for i, x in enumerate(s.sessions):
        remaining = x.energy_kwh
        for t in range(x.arrival_slot, min(x.departure_slot, s.horizon_slots)):
            p = min(caps[i], remaining / h)
            powers[i, t] = p
            remaining -= p * h
            if remaining <= 1e-9:
                break
    return powers


def _respect_charge_points(s: Scenario, powers: np.ndarray) -> np.ndarray:
    """Scale down sessions sharing a charge point in a slot to that charge point's limit."""
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    by_cp: dict[str, list[int]] = {}
    for i, x in enumerate(s.sessions):
        by_cp.setdefault(x.charge_point_id, []).append(i)
    for cp, members in by_cp.items():
        if len(members) < 2:
            continue
        total = powers[members].sum(axis=0)
        over = total > cp_max[cp]
        if over.any():
            scale = np.where(over, cp_max[cp] / np.maximum(total, 1e-12), 1.0)
            powers[members] *= scale
    return powers
