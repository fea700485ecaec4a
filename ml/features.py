"""Features and labels for failure prediction (pure pandas).

Everything is made of per charge point per UTC day sums (`daily_aggregates`), summed over
windows before the snapshot time: the last 7, 3 and 1 days and the 28 days before the last 7.
Offline (training, evaluation) a snapshot is taken at every midnight from whole days
(`build_features`); live (the scoring actors) at any time from the days so far and today's
partial day, a day the window cuts counting for the share of it inside the window
(`features_at`). Both end in the same `_features`, so a model sees the same features in
training and in service; at midnight the two are equal (tested).

Features: last 7 (and 3) days' rates and their drift against the charger's own previous 28 days
(heating per unit of current squared, delivered over offered power, failed starts, sessions
without energy), error-code counts by code, heartbeats in the last day against the charger's
own daily rate, disconnects, firmware and age. Labels come from maintenance records alone: a
failure within the horizon after the snapshot. Snapshots during an outage are left out
(nothing to predict then).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.telemetry import Telemetry

WINDOW_DAYS = 7
SHORT_DAYS = 3
BASELINE_DAYS = 28
ERROR_CODES = (
    "ConnectorLockFailure",
    "EVCommunicationError",
    "GroundFailure",
    "HighTemperature",
    "OtherError",
    "OverCurrentFailure",
    "PowerMeterFailure",
    "ReaderFailure",
    "WeakSignal",
)
FEATURES = (
    "sessions_7d",
    "failed_start_rate_7d",
    "failed_start_rate_drift",
    "failed_start_rate_3d",
    "zero_energy_rate_7d",
    "temp_per_amp2_7d",
    "temp_per_amp2_drift",
    "temp_per_amp2_3d_drift",
    "temperature_7d",
    "power_ratio_7d",
    "power_ratio_drift",
    "power_ratio_3d_drift",
    "error_codes_7d",
    *(f"errors_{code}_7d" for code in ERROR_CODES),
    "heartbeat_ratio_1d",
    "disconnects_7d",
    "age_days",
    "firmware",
)


def _daily(frame: pd.DataFrame, time_column: str, values: dict[str, pd.Series]) -> pd.DataFrame:
    """Per charge point and UTC day, the sums of `values` (Series aligned with `frame`)."""
    keys = [frame["charge_point_id"], frame[time_column].dt.floor("D").rename("day")]
    return pd.DataFrame(values).groupby(keys).sum()


def daily_aggregates(t: Telemetry) -> pd.DataFrame:
    """Sums per charge point and day of everything the features are made of."""
    tx = t.transactions
    failed = tx["start_failed"].fillna(False).astype(bool)
    parts = [
        _daily(
            tx,
            "started_at",
            {
                "starts": pd.Series(1, index=tx.index),
                "failed_starts": failed.astype(int),
                # Sessions still under way have no energy yet: only ended ones count.
                "zero_energy": (
                    (~failed) & tx["stopped_at"].notna() & (tx["energy_wh"].fillna(0) <= 0)
                ).astype(int),
                "sessions": (~failed).astype(int),
            },
        )
    ]
    mv = t.meter_values
    by = {m: mv[mv["measurand"] == m] for m in ("Current.Import", "Temperature")}
    # A temperature and the current sampled with it (same connector, same time).
    key = ["charge_point_id", "connector_id", "timestamp"]
    current = by["Current.Import"].groupby(key)["value"].mean().rename("amps")
    temperature = by["Temperature"].groupby(key)["value"].mean()
    paired = temperature.to_frame().join(current, how="inner").reset_index()
    parts.append(
        _daily(
            paired,
            "timestamp",
            {
                "temperature_sum": paired["value"],
                "amps2_sum": paired["amps"] ** 2,
                "temp_amps2_sum": paired["value"] * paired["amps"] ** 2,
                "amps4_sum": paired["amps"] ** 4,
                "temperature_n": pd.Series(1, index=paired.index),
            },
        )
    )
    power = mv[mv["measurand"] == "Power.Active.Import"]
    offered = mv[mv["measurand"] == "Power.Offered"]
    parts.append(_daily(power, "timestamp", {"power_sum": power["value"]}))
    parts.append(_daily(offered, "timestamp", {"offered_sum": offered["value"]}))
    se = t.status_events
    codes = se["error_code"].fillna("NoError")
    parts.append(
        _daily(
            se,
            "timestamp",
            {
                "error_codes": (codes != "NoError").astype(int),
                **{f"errors_{c}": (codes == c).astype(int) for c in ERROR_CODES},
            },
        )
    )
    cn = t.connectivity
    parts.append(
        _daily(
            cn,
            "timestamp",
            {
                "heartbeats": (cn["event"] == "heartbeat").astype(int),
                "disconnects": (cn["event"] == "disconnect").astype(int),
            },
        )
    )
    return pd.concat(parts, axis=1).fillna(0.0)


def _grid(t: Telemetry, days: pd.DatetimeIndex) -> pd.MultiIndex:
    return pd.MultiIndex.from_product(
        [t.charge_points["charge_point_id"].tolist(), days], names=["charge_point_id", "day"]
    )


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def heating(sums: pd.DataFrame) -> pd.Series:
    """Degrees per A^2: the least-squares slope of temperature on current squared over a
    window's sessions, from its sums (the ambient temperature drops out as the intercept)."""
    n, x, y = sums["temperature_n"], sums["amps2_sum"], sums["temperature_sum"]
    covariance = n * sums["temp_amps2_sum"] - x * y
    variance = n * sums["amps4_sum"] - x**2
    return _ratio(covariance, variance.where(n >= 3))


WINDOWS = {  # name: (days back from the snapshot the window ends, its length in days)
    "recent": (0, WINDOW_DAYS),
    "short": (0, SHORT_DAYS),
    "last_day": (0, 1),
    "before": (WINDOW_DAYS, BASELINE_DAYS),
}


def build_features(t: Telemetry, days: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """One row per charge point and snapshot day (index: charge_point_id, day), the features
    of what happened before that day's start."""
    daily = daily_aggregates(t)
    all_days = daily.index.get_level_values("day")
    first = all_days.min()
    # The last snapshot whose previous day is complete: chargers send heartbeats all day long,
    # so the day of the last one is where the data ends (sessions may end after midnight).
    if len(t.connectivity):
        last = t.connectivity["timestamp"].max().floor("D")
    else:
        last = all_days.max() + pd.Timedelta(days=1)
    calendar = pd.date_range(first, last, freq="D")
    daily = daily.reindex(_grid(t, calendar), fill_value=0.0)
    daily["observed_days"] = 1.0
    grouped = daily.groupby(level="charge_point_id", group_keys=False)
    # Whole days strictly before the snapshot: shift, then sum the windows.
    windows = {
        name: grouped.apply(lambda g, e=end, n=length: g.shift(1 + e).rolling(n, 1).sum())
        for name, (end, length) in WINDOWS.items()
    }
    f = _features(windows, t.charge_points)
    day_values = f.index.get_level_values("day")
    f = f.iloc[np.flatnonzero(day_values >= first + pd.Timedelta(days=WINDOW_DAYS))]
    if days is not None:
        f = f[f.index.get_level_values("day").isin(days)]
    return f


def day_weights(days: pd.DatetimeIndex, at: pd.Timestamp, back: int, length: int) -> np.ndarray:
    """How much of each day's sums falls in the window [at - back - length, at - back) days,
    assuming a day's events spread evenly over it; the day of `at` holds only what happened
    before `at`, so it counts whole when the window reaches `at` (pure)."""
    one = pd.Timedelta(days=1)
    start, end = at - (back + length) * one, at - back * one
    day_start = days
    day_end = np.minimum(days + one, at)  # the data a day holds
    span = (day_end - day_start) / one
    overlap = (np.minimum(day_end, end) - np.maximum(day_start, start)) / one
    weights = np.where(span > 0, np.clip(overlap, 0, None) / np.where(span > 0, span, 1), 0.0)
    return np.asarray(weights, dtype=float)


def features_at(daily: pd.DataFrame, charge_points: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """The features of each charge point in `daily` (index charge_point_id, day: the sums of
    `daily_aggregates`, a row for every day it was in service, today's partial day included)
    at time `at`; one row per charge point, index (charge_point_id, day=at)."""
    daily = daily.assign(observed_days=1.0)
    days = pd.DatetimeIndex(daily.index.get_level_values("day"))
    windows = {}
    for name, (back, length) in WINDOWS.items():
        weighted = daily.mul(day_weights(days, at, back, length), axis=0)
        sums = weighted.groupby(level="charge_point_id").sum()
        sums.index = pd.MultiIndex.from_arrays(
            [sums.index, pd.DatetimeIndex([at] * len(sums))], names=["charge_point_id", "day"]
        )
        windows[name] = sums
    return _features(windows, charge_points)


def _features(windows: dict[str, pd.DataFrame], charge_points: pd.DataFrame) -> pd.DataFrame:
    """The features of each snapshot (index charge_point_id, day) from its window sums."""
    recent, before, short, last_day = (
        windows[k] for k in ("recent", "before", "short", "last_day")
    )
    f = pd.DataFrame(index=recent.index)
    f["sessions_7d"] = recent["sessions"]
    f["failed_start_rate_7d"] = _ratio(recent["failed_starts"], recent["starts"])
    f["failed_start_rate_drift"] = f["failed_start_rate_7d"] - _ratio(
        before["failed_starts"], before["starts"]
    )
    f["failed_start_rate_3d"] = _ratio(short["failed_starts"], short["starts"])
    f["zero_energy_rate_7d"] = _ratio(recent["zero_energy"], recent["sessions"])
    f["temp_per_amp2_7d"] = heating(recent)
    baseline_heat = heating(before)
    f["temp_per_amp2_drift"] = f["temp_per_amp2_7d"] / baseline_heat
    f["temp_per_amp2_3d_drift"] = heating(short) / baseline_heat
    f["temperature_7d"] = _ratio(recent["temperature_sum"], recent["temperature_n"])
    f["power_ratio_7d"] = _ratio(recent["power_sum"], recent["offered_sum"])
    baseline_power = _ratio(before["power_sum"], before["offered_sum"])
    f["power_ratio_drift"] = f["power_ratio_7d"] / baseline_power
    f["power_ratio_3d_drift"] = _ratio(short["power_sum"], short["offered_sum"]) / baseline_power
    f["error_codes_7d"] = recent["error_codes"]
    for code in ERROR_CODES:
        f[f"errors_{code}_7d"] = recent[f"errors_{code}"]
    # Against the charger's own daily rate: heartbeat intervals differ between chargers.
    f["heartbeat_ratio_1d"] = _ratio(
        last_day["heartbeats"], _ratio(before["heartbeats"], before["observed_days"])
    )
    f["disconnects_7d"] = recent["disconnects"]
    info = charge_points.set_index("charge_point_id")
    day_values = f.index.get_level_values("day")
    cps = f.index.get_level_values("charge_point_id")
    commissioned = pd.DatetimeIndex(info["commissioned_at"].reindex(cps))
    f["age_days"] = ((day_values - commissioned) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    f["firmware"] = firmware_codes(info["firmware_version"].reindex(cps)).to_numpy()
    return f[list(FEATURES)]


def firmware_codes(versions: pd.Series) -> pd.Series:
    """A number per firmware version that orders versions the same in every data set (a
    category code would depend on which versions a data set happens to hold)."""

    def number(version: object) -> float:
        if not isinstance(version, str):
            return np.nan
        parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
        parts += [0] * (3 - len(parts))
        return float(parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2])

    return versions.map(number).astype(float)


def labels(t: Telemetry, index: pd.MultiIndex, horizon: pd.Timedelta) -> pd.DataFrame:
    """For each snapshot: `label` (a failure begins within `horizon` after it), `failure_at`
    and `failure_mode` of that failure, and `in_outage` (the charger is down at the snapshot)."""
    out = pd.DataFrame(index=index)
    out["label"] = False
    out["in_outage"] = False
    out["failure_at"] = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    out["failure_mode"] = None
    days = index.get_level_values("day")
    cps = index.get_level_values("charge_point_id")
    for row in t.maintenance.itertuples(index=False):
        mine = cps == row.charge_point_id
        coming = mine & (days < row.failed_at) & (days >= row.failed_at - horizon)
        out.loc[coming, "label"] = True
        out.loc[coming, "failure_at"] = row.failed_at
        out.loc[coming, "failure_mode"] = row.failure_mode
        out.loc[mine & (days >= row.failed_at) & (days < row.restored_at), "in_outage"] = True
    return out
