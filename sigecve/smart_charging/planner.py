"""The smart-charging planner: the lexicographic optimum of a site's charging plan.

Variables: the average power p[i,t] of session i in slot t, for the slots of its window
[arrival_slot, departure_slot) inside the horizon, bounded by min(EV limit, charge point
limit). Constraints: each session gets at most the energy it asked for (sum_t p*h <= E_i);
in every slot the site stays within its limit (sum_i p <= L_t), and a charge point shared by
overlapping sessions within its own limit. Sessions with `min_power_kw` charge either not at
all in a slot or at least that much.

Objectives, in order:
1. the most energy delivered, each session's kWh weighted by its priority (1 by default);
2. the lowest energy cost (sum of price_t * p * h);
3. the lowest peak site power.

A scenario where an EV may discharge (vehicle-to-grid) is planned by `v2g`'s LP instead.

`optimal_powers` solves it as a min-cost flow (`network_flow`: milliseconds to seconds, even
at 10,000 charge points), with minimum powers repaired from the relaxation. `exact_powers`
solves the same objectives as one weighted LP, or a MILP with a binary per slot of a session
with a minimum power, with HiGHS (scipy): exact, and the check of the fast path in the tests,
but tens of seconds at 1,000 charge points (`sigecve schedule --exact`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from sigecve.smart_charging import network_flow, v2g
from sigecve.smart_charging.baselines import equal_share
from sigecve.smart_charging.scenario import Plan, PlannedSession, PlanSummary, Scenario
from sigecve.smart_charging.shortfall import shortfall_reasons


class PlanningError(Exception):
    pass


@dataclass
class _Model:
    n: int  # power variables
    session_of: np.ndarray  # var -> session index
    slot_of: np.ndarray  # var -> slot
    upper: np.ndarray
    rows: list[sparse.csr_matrix]
    upper_bounds: list[np.ndarray]
    binaries: list[tuple[int, float]]  # (var, min power)


def _build(s: Scenario) -> _Model:
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    session_of, slot_of, upper, binaries = [], [], [], []
    for i, sess in enumerate(s.sessions):
        cap = min(sess.max_power_kw, cp_max[sess.charge_point_id])
        for t in range(sess.arrival_slot, min(sess.departure_slot, s.horizon_slots)):
            if sess.min_power_kw and sess.min_power_kw > 0:
                binaries.append((len(upper), sess.min_power_kw))
            session_of.append(i)
            slot_of.append(t)
            upper.append(cap)
    n = len(upper)
    session_of_a, slot_of_a = np.array(session_of, dtype=int), np.array(slot_of, dtype=int)
    h = s.slot_hours
    cols = np.arange(n)
    # energy per session
    energy = sparse.csr_matrix((np.full(n, h), (session_of_a, cols)), shape=(len(s.sessions), n))
    energy_ub = np.array([sess.energy_kwh for sess in s.sessions])
    # site limit per slot
    site = sparse.csr_matrix((np.ones(n), (slot_of_a, cols)), shape=(s.horizon_slots, n))
    site_ub = np.array([s.site_limit(t) for t in range(s.horizon_slots)])
    rows, ubs = [energy, site], [energy_ub, site_ub]
    # charge points shared by sessions present in the same slot
    by_cp_slot: dict[tuple[str, int], list[int]] = {}
    for v in range(n):
        key = (s.sessions[session_of[v]].charge_point_id, slot_of[v])
        by_cp_slot.setdefault(key, []).append(v)
    shared = [(key, vs) for key, vs in by_cp_slot.items() if len(vs) > 1]
    if shared:
        r, c = zip(*((k, v) for k, (_, vs) in enumerate(shared) for v in vs), strict=True)
        rows.append(sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(shared), n)))
        ubs.append(np.array([cp_max[cp] for (cp, _), _ in shared]))
    return _Model(n, session_of_a, slot_of_a, np.array(upper), rows, ubs, binaries)


def _solve(
    m: _Model,
    objective: np.ndarray,
    maxima: list[sparse.csr_matrix],
    time_limit_s: float | None,
):
    """Minimise `objective` over [p, u (binaries), z (one per matrix in `maxima`)], where each
    z_k >= every row of maxima[k] @ p; returns the whole solution vector."""
    nb = len(m.binaries)
    nz = len(maxima)
    total = m.n + nb + nz
    blocks = []
    ubs = []
    for row, ub in zip(m.rows, m.upper_bounds, strict=True):
        blocks.append(sparse.hstack([row, sparse.csr_matrix((row.shape[0], nb + nz))]))
        ubs.append(ub)
    if nb:
        # p - max*u <= 0 and min*u - p <= 0 for every slot of a session with a minimum power
        b_vars = np.array([v for v, _ in m.binaries])
        mins = np.array([mn for _, mn in m.binaries])
        k = np.arange(nb)
        upper_link = sparse.csr_matrix(
            (
                np.concatenate([np.ones(nb), -m.upper[b_vars]]),
                (np.concatenate([k, k]), np.concatenate([b_vars, m.n + k])),
            ),
            shape=(nb, total),
        )
        lower_link = sparse.csr_matrix(
            (
                np.concatenate([-np.ones(nb), mins]),
                (np.concatenate([k, k]), np.concatenate([b_vars, m.n + k])),
            ),
            shape=(nb, total),
        )
        blocks += [upper_link, lower_link]
        ubs += [np.zeros(nb), np.zeros(nb)]
    for k, rows in enumerate(maxima):
        z_column = np.zeros((rows.shape[0], nz))
        z_column[:, k] = -1.0
        blocks.append(
            sparse.hstack(
                [rows, sparse.csr_matrix((rows.shape[0], nb)), sparse.csr_matrix(z_column)]
            )
        )
        ubs.append(np.zeros(rows.shape[0]))
    a = sparse.vstack(blocks).tocsr()
    ub = np.concatenate(ubs)
    c = np.concatenate([objective, np.zeros(total - len(objective))])
    lower = np.zeros(total)
    upper = np.concatenate([m.upper, np.ones(nb), np.full(nz, np.inf)])
    integrality = np.concatenate([np.zeros(m.n), np.ones(nb), np.zeros(nz)])
    options = {"time_limit": time_limit_s} if time_limit_s else {}
    if not nb:  # a pure LP: HiGHS's interior point (with crossover) is the fastest here
        lp = linprog(
            c,
            A_ub=a,
            b_ub=ub,
            bounds=np.column_stack([lower, upper]),
            method="highs-ipm",
            options=options,
        )
        if lp.status != 0 or lp.x is None:
            raise PlanningError(f"HiGHS: {lp.message}")
        return lp.x
    result = milp(
        c,
        integrality=integrality,
        bounds=Bounds(lower, upper),
        constraints=LinearConstraint(a, -np.inf, ub),
        options=options,
    )
    if result.x is None or result.status not in (0,):
        raise PlanningError(f"HiGHS: {result.message}")
    return result.x


def plan(scenario: Scenario, *, exact: bool = False, time_limit_s: float | None = None) -> Plan:
    """The optimal plan, or the equal-share fallback (summary.status says which). `exact`:
    HiGHS's MILP instead of the network flow, within `time_limit_s` if given."""
    started = time.perf_counter()
    discharge = None
    try:
        if scenario.bidirectional:
            powers, discharge = v2g.powers(scenario)
        elif exact:
            powers = exact_powers(scenario, time_limit_s=time_limit_s)
        else:
            powers = optimal_powers(scenario)
        status = "optimal"
    except (PlanningError, v2g.V2GError):
        powers, discharge = equal_share(scenario), None
        status = "fallback_equal_share"
    return make_plan(scenario, powers, time.perf_counter() - started, status, discharge)


def optimal_powers(
    s: Scenario,
    *,
    minimise_peak: bool = True,
    prefer_early: bool | Sequence[bool] = False,
    balance_first_slot: bool = False,
) -> np.ndarray:
    """Powers [session, slot] of the lexicographic optimum, by the network flow; the options
    as for `exact_powers`."""
    problem = flow_problem(s, prefer_early)
    try:
        kw = network_flow.solve(
            problem, minimise_peak=minimise_peak, balance_first_slot=balance_first_slot
        )
    except network_flow.FlowError as e:
        raise PlanningError(str(e)) from e
    powers = np.zeros((len(s.sessions), s.horizon_slots))
    powers[problem.session_of, problem.slot_of] = kw
    return powers


def flow_problem(s: Scenario, prefer_early: bool | Sequence[bool] = False) -> network_flow.Problem:
    """The scenario as arrays, one entry per session and slot of its window (vectorised:
    40,000 sessions take milliseconds)."""
    n, horizon = len(s.sessions), s.horizon_slots
    cp_index = {cp.id: k for k, cp in enumerate(s.charge_points)}
    cp_max = np.array([cp.max_power_kw for cp in s.charge_points], dtype=float)
    columns = np.array(
        [
            (
                x.arrival_slot,
                min(x.departure_slot, horizon),
                x.max_power_kw,
                x.min_power_kw or 0.0,
                x.energy_kwh,
                x.priority,
                cp_index[x.charge_point_id],
            )
            for x in s.sessions
        ],
        dtype=float,
    ).reshape(n, 7)
    arrival = columns[:, 0].astype(np.int64)
    lengths = np.clip(columns[:, 1].astype(np.int64) - arrival, 0, None)
    session_of = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    slot_of = arrival[session_of] + np.arange(len(session_of)) - np.repeat(starts, lengths)
    cp_of = columns[:, 6].astype(np.int64)
    return network_flow.Problem(
        slot_hours=s.slot_hours,
        horizon=horizon,
        session_of=session_of,
        slot_of=slot_of,
        cap_kw=np.minimum(columns[:, 2], cp_max[cp_of] if n else 0.0)[session_of],
        min_kw=columns[:, 3][session_of],
        energy_kwh=columns[:, 4],
        priority=columns[:, 5],
        prefer_early=np.broadcast_to(np.asarray(prefer_early, dtype=bool), (n,)).copy(),
        charge_point_of=cp_of,
        cp_max_kw=cp_max,
        site_kw=np.array([s.site_limit(t) for t in range(horizon)], dtype=float),
        prices=np.array(s.prices, dtype=float),
    )


def exact_powers(
    s: Scenario,
    *,
    time_limit_s: float | None = None,
    minimise_peak: bool = True,
    prefer_early: bool | Sequence[bool] = False,
    balance_first_slot: bool = False,
) -> np.ndarray:
    """Powers [session, slot] of the lexicographic optimum, by HiGHS (exact, slow at scale).

    `prefer_early` (for all sessions, or per session) puts "sooner" between energy and cost:
    of two plans delivering the same energy, the one delivering it earlier wins whatever the
    prices. The online scheduler uses it for sessions whose departure it only estimates, so as
    not to wait for cheaper slots an EV may not stay for. It also skips the peak
    (`minimise_peak=False`): it applies only the first slot."""
    m = _build(s)
    if m.n == 0:
        return np.zeros((len(s.sessions), s.horizon_slots))
    h = s.slot_hours
    # One LP for all the objectives, weighted so that none can be traded for a later one:
    # a kWh is worth more than any price (a kWh more costs at most the dearest slot's price),
    # and a kW of peak a millionth of that, so the peak only decides between plans whose cost
    # differs by less than a millionth of the peak (0.005 for a 5 MW site at 1 per kWh).
    # With prefer_early, a kWh one slot sooner is worth more than any price difference too.
    prices = np.array(s.prices)[m.slot_of] * h
    # The online scheduler balances the slot it applies instead: among equally good plans, the
    # one whose most loaded session uses the smallest share of its limit (equal EVs, equal
    # power; an LP left alone picks a corner and starves one of them).
    weight = 2.0 * max(abs(p) for p in s.prices) + 1.0
    early = np.broadcast_to(np.asarray(prefer_early, dtype=bool), (len(s.sessions),))
    # A kWh is worth its session's priority (>= 1, so still more than any price).
    value = h * np.array([sess.priority for sess in s.sessions])[m.session_of]
    if early.any():
        value *= 1.0 - np.where(early[m.session_of], 0.5 * m.slot_of / s.horizon_slots, 0.0)
        weight *= 2.0 * s.horizon_slots
    objective = prices - weight * value
    maxima = []
    if minimise_peak:
        maxima.append(m.rows[1])  # site power per slot
    if balance_first_slot:
        first = np.flatnonzero(m.slot_of == 0)
        maxima.append(
            sparse.csr_matrix(
                (1.0 / np.maximum(m.upper[first], 1e-9), (np.arange(len(first)), first)),
                shape=(len(first), m.n),
            )
        )
    objective = np.concatenate(
        [objective, np.zeros(len(m.binaries)), np.full(len(maxima), weight * 1e-6)]
    )
    return _powers(s, m, _solve(m, objective, maxima, time_limit_s))


def _powers(s: Scenario, m: _Model, x: np.ndarray) -> np.ndarray:
    powers = np.zeros((len(s.sessions), s.horizon_slots))
    powers[m.session_of, m.slot_of] = np.clip(x[: m.n], 0.0, None)
    return powers


def make_plan(
    s: Scenario,
    powers: np.ndarray,
    seconds: float,
    status: str,
    discharge: np.ndarray | None = None,
) -> Plan:
    """The plan of charging `powers` [session, slot] (and, vehicle-to-grid, `discharge`)."""
    powers = np.clip(powers, 0.0, None)  # the solver may return -1e-12 for a zero
    h = s.slot_hours
    net = powers if discharge is None else powers - np.clip(discharge, 0.0, None)
    site_power = net.sum(axis=0) if len(s.sessions) else np.zeros(s.horizon_slots)
    delivered = net.sum(axis=1) * h if len(s.sessions) else np.zeros(0)
    reasons = shortfall_reasons(s, net)
    prices = np.array(s.prices)
    imported = np.clip(site_power, 0.0, None)
    v2g_summary = {}
    if discharge is not None:
        exported = np.clip(-site_power, 0.0, None)
        export_prices = np.array([s.export_price(t) for t in range(s.horizon_slots)])
        discharged = float(discharge.sum() * h)
        v2g_summary = {
            "discharged_kwh": round(discharged, 4),
            "exported_kwh": round(float(exported.sum() * h), 4),
            "export_revenue": round(float((exported * export_prices).sum() * h), 4),
            "wear_cost": round(discharged * s.battery_wear_cost_per_kwh, 4),
        }
    cost = float((imported * prices).sum() * h)
    if v2g_summary:
        cost += v2g_summary["wear_cost"] - v2g_summary["export_revenue"]
    return Plan(
        scenario=s.name,
        solver_seconds=round(seconds, 4),
        sessions=[
            PlannedSession(
                id=sess.id,
                power_kw=[float(p) for p in powers[i]],
                discharge_kw=None
                if discharge is None or not sess.bidirectional
                else [float(p) for p in np.clip(discharge[i], 0.0, None)],
                energy_kwh=round(float(delivered[i]), 4),
                shortfall_kwh=round(max(sess.energy_kwh - float(delivered[i]), 0.0), 4)
                if reasons[i]
                else 0.0,
                shortfall_reason=reasons[i],
            )
            for i, sess in enumerate(s.sessions)
        ],
        summary=PlanSummary(
            energy_kwh=round(float(net.sum() * h), 4),
            cost=round(cost, 4),
            peak_kw=round(float(site_power.max(initial=0.0)), 4),
            requested_kwh=round(sum(sess.energy_kwh for sess in s.sessions), 4),
            status=status,
            shortfalls=dict(Counter(r for r in reasons if r)),
            **v2g_summary,
        ),
    )
