"""The planner's fast path: the plan as a min-cost flow, solved by OR-tools' network solver.

The charging LP is a transportation problem: energy flows from a source to each session (at
most what it asked for), from a session to the slots of its window (at most its power cap
times the slot length), through a charge point's node where sessions share one in a slot,
and from each slot to a sink (at most the site limit). A kWh delivered is worth more than any
price, so the flow carries as much (priority-weighted) energy as the network allows and,
among those flows, the cheapest; a bypass arc from source to sink carries what cannot be
delivered. Each slot's arc to the sink is split into chunks of rising cost, too small to
outweigh a price step, so that among equally cheap plans the load is spread flat (the peak).

Network solvers need integers: energy in units of a power of ten of a kWh, as fine as keeps
the flow's cost within int64 (0.01 Wh for a small site, 10 Wh for 10,000 charge points), and
prices in 1e-4 per kWh (relative to the dearest where prices run past 1 per kWh). That costs
at most a unit per session and slot.

Minimum powers (off, or at least `min_power_kw`) are not a flow. The relaxation is solved
first; then, for a few rounds, the slots a session uses below its minimum are switched on
(their minimum becomes a lower bound, sent before the solve) while the minima switched on fit
the site, the charge point and the session's energy, else closed, and the flow is solved
again: everything else reroutes around them. After the last round every minimum-power slot
below its minimum closes and one more solve moves its energy where it fits, so the plan
always honours the minima. On generated 1,000-point sites this keeps 99.97 % of the
relaxation's energy (an upper bound of the optimum) in five solves; the exact MILP
(`planner.exact_powers`) checks it in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

FLOW_UNITS = 1e9  # the whole flow in at most this many units
PRICE_STEPS_PER_UNIT = 1e4  # prices resolved to 1e-4 per kWh (at most; see _price_steps)
TIE = 128  # a price step is worth TIE tie-breaking steps
PEAK_CHUNKS = 8
BALANCE_CHUNKS = 64
REPAIR_ROUNDS = 4


class FlowError(Exception):
    pass


@dataclass(frozen=True)
class Problem:
    """The planning problem in arrays, one entry per (session, slot) variable."""

    slot_hours: float
    horizon: int
    session_of: np.ndarray
    slot_of: np.ndarray
    cap_kw: np.ndarray  # per variable: min(EV, charge point)
    min_kw: np.ndarray  # per variable: 0 when the session has no minimum power
    energy_kwh: np.ndarray  # per session
    priority: np.ndarray  # per session
    prefer_early: np.ndarray  # per session
    charge_point_of: np.ndarray  # per session: index into cp_max_kw
    cp_max_kw: np.ndarray
    site_kw: np.ndarray  # per slot
    prices: np.ndarray  # per slot


def solve(
    p: Problem, *, minimise_peak: bool = True, balance_first_slot: bool = False
) -> np.ndarray:
    """Power per variable (kW) of the optimal plan, minimum powers repaired as above.

    `balance_first_slot` is for a plan of which only slot 0 is applied (the online
    schedulers'): slot 0 is shared evenly among alike sessions, and minimum powers are kept
    in slot 0 only, as the later slots are planned again before they are applied."""
    if len(p.session_of) == 0:
        return np.zeros(0)
    units = _units_per_kwh(p)
    has_min = (p.min_kw > 0) & ((p.slot_of == 0) | (not balance_first_slot))
    lower = np.where(has_min, np.ceil(p.min_kw * p.slot_hours * units), 0.0)
    closed = lower > _caps(p)  # a minimum above the cap: never on
    on = np.zeros(len(lower), dtype=bool)
    for round_ in range(REPAIR_ROUNDS + 1):
        amount = _flow(p, minimise_peak, balance_first_slot, closed=closed, lower=on * lower)
        short = (lower > 0) & ~on & ~closed & (amount > 0.5) & (amount < lower - 0.5)
        if not short.any():
            break
        if round_ == REPAIR_ROUNDS - 1:
            # Still short after the repair rounds: the slots at their minimum or above stay on,
            # all others close, and the last solve moves their energy where it fits.
            on = on | ((lower > 0) & ~closed & (amount >= lower - 0.5))
            closed = closed | ((lower > 0) & ~on)
        else:
            on, closed = _repair(p, amount, lower, on, closed, short)
    return amount / units / p.slot_hours


def _units_per_kwh(p: Problem) -> float:
    """As fine as keeps the whole flow's cost (units x the dearest unit's value) within int64,
    at most 1e9 units in all, at most a million per kWh."""
    dearest = float(np.abs(p.prices).max(initial=0.0)) * _price_steps(p) * TIE
    steps = 2 * dearest + 2 * TIE + (2 * dearest + TIE) * p.horizon * bool(p.prefer_early.any())
    budget = min(FLOW_UNITS, 4e17 / (steps * max(float(p.priority.max(initial=1.0)), 1.0)))
    total = max(float(p.energy_kwh.sum()), 1e-9)
    return 10.0 ** np.clip(np.floor(np.log10(budget / total)), 0, 6)


def _price_steps(p: Problem) -> float:
    """Steps per currency unit: 1e4, or fewer when prices are large (a currency of small
    units), so that the dearest is at most 10,000 steps."""
    dearest = float(np.abs(p.prices).max(initial=0.0))
    if dearest <= 0:
        return PRICE_STEPS_PER_UNIT
    return min(PRICE_STEPS_PER_UNIT, 10.0 ** np.floor(np.log10(1e4 / dearest)))


def _in_units(p: Problem, kwh: np.ndarray) -> np.ndarray:
    """kWh in whole flow units, rounded down (a limit is never exceeded), forgiving the float
    error of e.g. 7.4 kW x 0.25 h."""
    return np.floor(np.asarray(kwh) * _units_per_kwh(p) + 1e-6)


def _caps(p: Problem) -> np.ndarray:
    return _in_units(p, p.cap_kw * p.slot_hours)


def _repair(
    p: Problem,
    amount: np.ndarray,
    lower: np.ndarray,
    on: np.ndarray,
    closed: np.ndarray,
    candidates: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-power variables used in `amount` are switched on (their minimum becomes a lower
    bound) while the minima switched on fit what is fixed: the site limit per slot, the charge
    point per slot, the session's energy; the others are closed. Everything else reroutes in
    the next solve, so any choice that fits is feasible; the fullest go first."""
    h = p.slot_hours
    on, closed = on.copy(), closed.copy()
    base = on * lower
    session_room = _in_units(p, p.energy_kwh) - np.bincount(
        p.session_of, weights=base, minlength=len(p.energy_kwh)
    )
    site_room = _in_units(p, p.site_kw * h) - np.bincount(
        p.slot_of, weights=base, minlength=p.horizon
    )
    cp_key = p.charge_point_of[p.session_of] * p.horizon + p.slot_of
    cp_room: dict[int, float] = {}
    cp_cap = _in_units(p, p.cp_max_kw * h)
    for k, v in zip(cp_key.tolist(), base.tolist(), strict=True):
        cp_room[k] = cp_room.get(k, cp_cap[k // p.horizon]) - v
    idx = np.flatnonzero(candidates)
    for v in idx[np.argsort(-(amount[idx] / lower[idx]), kind="stable")].tolist():
        i, t, k, need = p.session_of[v], p.slot_of[v], cp_key[v], lower[v]
        if need <= session_room[i] and need <= site_room[t] and need <= cp_room[k]:
            session_room[i] -= need
            site_room[t] -= need
            cp_room[k] -= need
            on[v] = True
        else:
            closed[v] = True
    return on, closed


def _flow(
    p: Problem,
    minimise_peak: bool,
    balance_first_slot: bool,
    *,
    closed: np.ndarray,
    lower: np.ndarray | None,
) -> np.ndarray:
    """Units per variable of the min-cost flow, with `lower` units sent through each variable
    before the solve and `closed` variables carrying nothing."""
    n_sessions, horizon, n_vars = len(p.energy_kwh), p.horizon, len(p.session_of)
    h = p.slot_hours
    lower = np.zeros(n_vars) if lower is None else lower
    caps = np.where(closed, 0.0, _caps(p) - lower)
    source, sink = 0, 1
    session_node = 2 + np.arange(n_sessions)
    slot_node = 2 + n_sessions + np.arange(horizon)
    # Charge points shared by several sessions in a slot get a node of their own there.
    cp_key = p.charge_point_of[p.session_of] * horizon + p.slot_of
    keys, key_index, key_count = np.unique(cp_key, return_inverse=True, return_counts=True)
    shared = key_count > 1
    shared_node = np.full(len(keys), -1)
    shared_node[shared] = 2 + n_sessions + horizon + np.arange(shared.sum())
    var_head = np.where(shared[key_index], shared_node[key_index], slot_node[p.slot_of])

    price_cost = np.round(p.prices * _price_steps(p)).astype(np.int64) * TIE
    dearest = int(np.abs(price_cost).max(initial=0))
    # A unit delivered is worth more than the dearest slot and than waiting (prefer_early).
    early_step = 2 * dearest + TIE
    value_unit = 2 * dearest + 2 * TIE + early_step * horizon * int(p.prefer_early.any())
    value = np.round(value_unit * p.priority).astype(np.int64)

    tails, heads, capacity, cost = [], [], [], []

    def arcs(t, hd, cap, c) -> None:
        tails.append(np.asarray(t, dtype=np.int64))
        heads.append(np.asarray(hd, dtype=np.int64))
        capacity.append(np.maximum(np.floor(np.asarray(cap, dtype=float)), 0).astype(np.int64))
        cost.append(np.asarray(c, dtype=np.int64))

    sent = np.bincount(p.session_of, weights=lower, minlength=n_sessions)
    energy_units = _in_units(p, p.energy_kwh)
    arcs(np.zeros(n_sessions), session_node, energy_units - sent, -value)
    # Waiting costs a session whose departure is a guess in proportion to its priority: of
    # two such sessions, the higher priority's energy comes sooner.
    var_cost = np.where(
        p.prefer_early[p.session_of],
        np.round(p.slot_of * early_step * p.priority[p.session_of]),
        0,
    ).astype(np.int64)
    first_var_arc = sum(len(a) for a in tails)
    if balance_first_slot:
        # Slot 0 in chunks of 1/64 of each session's cap, each dearer by a tie step: alike
        # EVs get alike shares of the slot that is applied, within 1/64 of their cap.
        first = p.slot_of == 0
        idx = np.flatnonzero(first)
        chunk = np.floor(caps[idx] / BALANCE_CHUNKS)
        var_order = np.concatenate([np.flatnonzero(~first)] + [idx] * BALANCE_CHUNKS)
        arcs(session_node[p.session_of[~first]], var_head[~first], caps[~first], var_cost[~first])
        for j in range(BALANCE_CHUNKS):
            last = j == BALANCE_CHUNKS - 1
            arcs(
                session_node[p.session_of[idx]],
                var_head[idx],
                caps[idx] - (BALANCE_CHUNKS - 1) * chunk if last else chunk,
                var_cost[idx] + j,
            )
    else:
        var_order = np.arange(n_vars)
        arcs(session_node[p.session_of], var_head, caps, var_cost)
    n_var_arcs = sum(len(a) for a in tails) - first_var_arc

    # Shared charge point nodes to their slot, within the charge point's limit.
    cp_of_key = keys // horizon
    slot_of_key = keys % horizon
    cp_used = np.bincount(key_index, weights=lower, minlength=len(keys))
    cp_cap = _in_units(p, p.cp_max_kw[cp_of_key] * h) - cp_used
    arcs(
        shared_node[shared], slot_node[slot_of_key[shared]], cp_cap[shared], np.zeros(shared.sum())
    )

    site_units = _in_units(p, p.site_kw * h) - np.bincount(
        p.slot_of, weights=lower, minlength=horizon
    )
    chunks = PEAK_CHUNKS if minimise_peak else 1
    for j in range(chunks):
        part = np.floor(site_units / chunks) + (j == 0) * (
            site_units - chunks * np.floor(site_units / chunks)
        )
        arcs(slot_node, np.full(horizon, sink), part, price_cost + j * (TIE // chunks))
    total = int(energy_units.sum() - sent.sum())
    arcs([source], [sink], [total], [0])

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(capacity), np.concatenate(cost)
    )
    flow.set_nodes_supplies(np.array([source, sink]), np.array([total, -total]))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise FlowError(f"network solver: status {status}")
    var_flows = flow.flows(np.arange(first_var_arc, first_var_arc + n_var_arcs))
    amount = np.bincount(var_order, weights=var_flows, minlength=n_vars)
    return amount + lower
