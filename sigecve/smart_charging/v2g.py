"""Vehicle-to-grid planning (pure): charge and discharge powers as one LP on HiGHS.

A scenario with a bidirectional session (`max_discharge_kw > 0`) is planned here instead of
by the network flow, because a battery's state links its slots (a flow cannot carry that).

Variables, per session i and slot t of its window: charging power c >= 0 (within the EV's
and the charge point's limits) and, for a bidirectional session, discharging power d >= 0
(within its `max_discharge_kw` and the charge point's) and the battery's energy after the
slot relative to arrival, b, within [v2x_min_kwh, headroom]; per session its net energy
e = h * sum(c - d), within [0, energy asked (and headroom)]; per slot the site's import and
export, with import - export = sum(c - d), import within the site limit and export within
`max_export_kw`.

Objectives, in order, as one weighted LP (as `planner.exact_powers`): the most net energy,
each kWh weighted by its session's priority; the lowest cost (import at the price, less
export at the export price, plus battery wear per kWh discharged); the lowest peak import.
Minimum powers (one-way sessions only) are repaired from the LP: where it gives a slot less
than the minimum, the first rounds hold the busiest of those slots at the minimum while the
minima fit the site, the charge point and the session's energy, and close the others; then
short slots are only closed, until none is left (each round settles at least one slot, and
what is held always fits, so every LP stays feasible).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from sigecve.smart_charging.scenario import Scenario

MIN_POWER_TOLERANCE_KW = 1e-6
OPENING_ROUNDS = 4
MAX_ROUNDS = 1000  # each round closes or opens at least one slot: only a bug reaches this


class V2GError(Exception):
    pass


@dataclass
class _Layout:
    """Where each variable is: c for every (session, slot) of a window, then d and b for
    those of bidirectional sessions, then e per session, import and export per slot, peak."""

    c_session: np.ndarray
    c_slot: np.ndarray
    d_of_c: np.ndarray  # for each d (and b): the index of its c
    n_sessions: int
    horizon: int

    @property
    def n_c(self) -> int:
        return len(self.c_session)

    @property
    def n_d(self) -> int:
        return len(self.d_of_c)

    def d(self, k: np.ndarray | int) -> np.ndarray | int:
        return self.n_c + k

    def b(self, k: np.ndarray | int) -> np.ndarray | int:
        return self.n_c + self.n_d + k

    def e(self, i: np.ndarray | int) -> np.ndarray | int:
        return self.n_c + 2 * self.n_d + i

    def imp(self, t: np.ndarray | int) -> np.ndarray | int:
        return self.n_c + 2 * self.n_d + self.n_sessions + t

    def exp(self, t: np.ndarray | int) -> np.ndarray | int:
        return self.n_c + 2 * self.n_d + self.n_sessions + self.horizon + t

    @property
    def peak(self) -> int:
        return self.n_c + 2 * self.n_d + self.n_sessions + 2 * self.horizon

    @property
    def total(self) -> int:
        return self.peak + 1


def _layout(s: Scenario) -> _Layout:
    c_session, c_slot, d_of_c = [], [], []
    for i, x in enumerate(s.sessions):
        for t in range(x.arrival_slot, min(x.departure_slot, s.horizon_slots)):
            if x.bidirectional:
                d_of_c.append(len(c_session))
            c_session.append(i)
            c_slot.append(t)
    return _Layout(
        np.array(c_session, dtype=np.int64),
        np.array(c_slot, dtype=np.int64),
        np.array(d_of_c, dtype=np.int64),
        len(s.sessions),
        s.horizon_slots,
    )


def powers(
    s: Scenario,
    *,
    minimise_peak: bool = True,
    prefer_early: bool | Sequence[bool] = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(charging, discharging) powers [session, slot] of the lexicographic optimum.

    `prefer_early` (all sessions, or per session) as in `planner.exact_powers`: of two plans
    with the same energy, the one delivering a session's kWh sooner wins whatever the prices."""
    lay = _layout(s)
    n = len(s.sessions)
    charge = np.zeros((n, s.horizon_slots))
    discharge = np.zeros((n, s.horizon_slots))
    if lay.n_c == 0:
        return charge, discharge
    closed = np.zeros(lay.n_c, dtype=bool)
    forced = np.zeros(lay.n_c, dtype=bool)  # slots held at least at their minimum
    minimum = np.array([s.sessions[i].min_power_kw or 0.0 for i in lay.c_session])
    x = _solve(s, lay, closed, forced, minimum, minimise_peak, prefer_early)
    for round_ in range(MAX_ROUNDS):
        c = x[: lay.n_c]
        short = (minimum > 0) & ~closed & ~forced & (c > MIN_POWER_TOLERANCE_KW)
        short &= c < minimum - MIN_POWER_TOLERANCE_KW
        if not short.any():
            break
        # The first rounds hold short slots at their minimum, busiest first, while the minima
        # fit (the site, the charge point, the session's energy), and close the others; later
        # rounds only close (so it ends).
        if round_ < OPENING_ROUNDS:
            opened = _fitting(s, lay, short, forced, c, minimum)
        else:
            opened = np.zeros_like(short)
        closed |= short & ~opened
        forced |= opened
        x = _solve(s, lay, closed, forced, minimum, minimise_peak, prefer_early)
    else:
        raise V2GError(f"minimum powers not settled in {MAX_ROUNDS} rounds")
    c = x[: lay.n_c]
    charge[lay.c_session, lay.c_slot] = np.clip(c, 0.0, None)
    d = np.clip(x[lay.d(0) : lay.d(lay.n_d)], 0.0, None)
    discharge[lay.c_session[lay.d_of_c], lay.c_slot[lay.d_of_c]] = d
    return charge, discharge


def _fitting(
    s: Scenario,
    lay: _Layout,
    short: np.ndarray,
    forced: np.ndarray,
    c: np.ndarray,
    minimum: np.ndarray,
) -> np.ndarray:
    """The short slots to hold at their minimum, busiest first, while the minima held fit
    each session's energy, the site's limit and each charge point's (so the LP stays
    feasible: every other power can still be 0)."""
    h = s.slot_hours
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    energy = np.zeros(len(s.sessions))
    site = np.zeros(s.horizon_slots)
    at_cp: dict[tuple[str, int], float] = {}

    def hold(v: int) -> None:
        i, t = int(lay.c_session[v]), int(lay.c_slot[v])
        energy[i] += minimum[v] * h
        site[t] += minimum[v]
        key = (s.sessions[i].charge_point_id, t)
        at_cp[key] = at_cp.get(key, 0.0) + minimum[v]

    for v in np.flatnonzero(forced):
        hold(int(v))
    opened = np.zeros_like(short)
    for v in np.flatnonzero(short)[np.argsort(-c[short], kind="stable")]:
        i, t = int(lay.c_session[v]), int(lay.c_slot[v])
        x = s.sessions[i]
        if (
            energy[i] + minimum[v] * h <= x.energy_kwh + 1e-9
            and site[t] + minimum[v] <= s.site_limit(t) + 1e-9
            and at_cp.get((x.charge_point_id, t), 0.0) + minimum[v]
            <= cp_max[x.charge_point_id] + 1e-9
            and minimum[v] <= min(x.max_power_kw, cp_max[x.charge_point_id])
        ):
            hold(int(v))
            opened[v] = True
    return opened


def _solve(
    s: Scenario,
    lay: _Layout,
    closed: np.ndarray,
    forced: np.ndarray,
    minimum: np.ndarray,
    minimise_peak: bool,
    prefer_early: bool | Sequence[bool],
) -> np.ndarray:
    h, horizon, n = s.slot_hours, s.horizon_slots, len(s.sessions)
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    sess = s.sessions
    c_cap = np.array(
        [min(sess[i].max_power_kw, cp_max[sess[i].charge_point_id]) for i in lay.c_session]
    )
    c_cap[closed] = 0.0
    d_sessions = lay.c_session[lay.d_of_c]
    d_cap = np.array(
        [min(sess[i].max_discharge_kw, cp_max[sess[i].charge_point_id]) for i in d_sessions]
    )
    lower = np.zeros(lay.total)
    upper = np.zeros(lay.total)
    upper[: lay.n_c] = c_cap
    lower[: lay.n_c] = np.where(forced, np.minimum(minimum, c_cap), 0.0)
    upper[lay.d(0) : lay.d(lay.n_d)] = d_cap
    lower[lay.b(0) : lay.b(lay.n_d)] = [sess[i].v2x_min_kwh for i in d_sessions]
    upper[lay.b(0) : lay.b(lay.n_d)] = [sess[i].headroom_kwh for i in d_sessions]
    upper[lay.e(0) : lay.e(n)] = [
        min(x.energy_kwh, x.headroom_kwh) if x.bidirectional else x.energy_kwh for x in sess
    ]
    upper[lay.imp(0) : lay.imp(horizon)] = [s.site_limit(t) for t in range(horizon)]
    upper[lay.exp(0) : lay.exp(horizon)] = s.site.max_export_kw
    upper[lay.peak] = np.inf

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    n_eq = 0

    def add(r: np.ndarray, c: np.ndarray, v: np.ndarray | float) -> None:
        rows.append(np.asarray(r))
        cols.append(np.asarray(c))
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), np.shape(c)))

    # net energy per session: h * sum c - h * sum d - e = 0
    add(lay.c_session, np.arange(lay.n_c), h)
    add(d_sessions, lay.d(np.arange(lay.n_d)), -h)
    add(np.arange(n), lay.e(np.arange(n)), -1.0)
    n_eq += n
    # battery: b_k - b_(k-1) - h c_k + h d_k = 0 (b_(-1) = 0 at arrival)
    k = np.arange(lay.n_d)
    r = n_eq + k
    add(r, lay.b(k), 1.0)
    continues = np.zeros(lay.n_d, dtype=bool)
    if lay.n_d:
        continues[1:] = d_sessions[1:] == d_sessions[:-1]
    add(r[continues], lay.b(k[continues] - 1), -1.0)
    add(r, lay.d_of_c, -h)
    add(r, lay.d(k), h)
    n_eq += lay.n_d
    # site: sum c - sum d - import + export = 0 per slot
    add(n_eq + lay.c_slot, np.arange(lay.n_c), 1.0)
    add(n_eq + lay.c_slot[lay.d_of_c], lay.d(k), -1.0)
    t = np.arange(horizon)
    add(n_eq + t, lay.imp(t), -1.0)
    add(n_eq + t, lay.exp(t), 1.0)
    n_eq += horizon
    a_eq = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_eq, lay.total),
    )

    rows, cols, vals = [], [], []
    ub: list[float] = []
    # a charge point shared by sessions in the same slot: within its limit, either way
    cp_of = [sess[i].charge_point_id for i in lay.c_session]
    groups: dict[tuple[str, int], list[int]] = {}
    for v, (cp, slot) in enumerate(zip(cp_of, lay.c_slot, strict=True)):
        groups.setdefault((cp, int(slot)), []).append(v)
    d_index = {int(c): j for j, c in enumerate(lay.d_of_c)}
    row = 0
    for (cp, _), vs in groups.items():
        if len(vs) < 2:
            continue
        add(np.full(len(vs), row), np.array(vs), 1.0)
        ub.append(cp_max[cp])
        row += 1
        ds = [lay.d(d_index[v]) for v in vs if v in d_index]
        if len(ds) > 1:
            add(np.full(len(ds), row), np.array(ds), 1.0)
            ub.append(cp_max[cp])
            row += 1
    if minimise_peak:  # import_t - peak <= 0
        add(row + t, lay.imp(t), 1.0)
        add(row + t, np.full(horizon, lay.peak), -1.0)
        ub.extend([0.0] * horizon)
        row += horizon
    a_ub = (
        sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(row, lay.total),
        )
        if row
        else None
    )

    prices = np.array(s.prices, dtype=float)
    export = np.array([s.export_price(t) for t in range(horizon)])
    wear = s.battery_wear_cost_per_kwh
    # A kWh delivered is worth more than anything it can cost: importing it at the dearest
    # price, or cycling another battery for it (its wear, an export forgone, a re-import).
    weight = 2.0 * (2.0 * np.abs(prices).max() + np.abs(export).max() + wear) + 1.0
    value = np.array([x.priority for x in sess], dtype=float)
    early = np.broadcast_to(np.asarray(prefer_early, dtype=bool), (n,))
    objective = np.zeros(lay.total)
    objective[lay.imp(t)] = h * prices
    objective[lay.exp(t)] = -h * export
    objective[lay.d(k)] = h * wear
    if early.any():
        # Sooner first for those sessions: their kWh in slot t worth a little less the later t.
        weight *= 2.0 * horizon
        discount = np.where(early[lay.c_session], 0.5 * lay.c_slot / horizon, 0.0)
        objective[: lay.n_c] += weight * h * value[lay.c_session] * discount
    objective[lay.e(np.arange(n))] = -weight * value
    objective[lay.peak] = weight * 1e-6 if minimise_peak else 0.0
    result = linprog(
        objective,
        A_ub=a_ub,
        b_ub=np.array(ub) if row else None,
        A_eq=a_eq,
        b_eq=np.zeros(n_eq),
        bounds=np.column_stack([lower, upper]),
        method="highs",
    )
    if result.status != 0 or result.x is None:
        raise V2GError(f"HiGHS: {result.message}")
    return result.x
