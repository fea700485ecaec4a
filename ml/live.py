"""Failure scoring on live telemetry: the feature state the scoring actors keep, the reads
from SIGEC-VE's database it is made of, and the alerts it writes.

The state of a charge point is its whole days' sums (`daily_aggregates`) over the last 35
days, kept in memory and in the `telemetry_daily` table; scoring adds today's partial day,
read fresh, and takes the features at that moment (`features_at`). A day that ends is summed
once from the raw telemetry; telemetry a charger sends days late (after being offline) is
not added to days already summed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import psycopg

from ml.export import read_telemetry
from ml.features import BASELINE_DAYS, WINDOW_DAYS, daily_aggregates, features_at

LOOKBACK_DAYS = WINDOW_DAYS + BASELINE_DAYS
ONE_DAY = pd.Timedelta(days=1)
# What each feature's rise points at, for the alert's likely failure mode.
MODE_OF_SIGNAL = {
    "temp_per_amp2": "connector",
    "temperature": "power_electronics",
    "power_ratio": "power_electronics",
    "failed_start": "reader",
    "zero_energy": "meter",
    "errors_PowerMeterFailure": "meter",
    "errors_GroundFailure": "ground_fault",
    "errors_ConnectorLockFailure": "connector",
    "errors_ReaderFailure": "reader",
    "errors_WeakSignal": "communication",
    "errors_OverCurrentFailure": "power_electronics",
    "heartbeat": "communication",
    "disconnects": "communication",
}


class RiskModel(Protocol):
    """What the scoring actors need of a model: `FailureModel` is one; a data scientist's own
    model plugs in by having these (docs/ml.md, "Your own model")."""

    features: list[str]
    threshold: float
    horizon_hours: float
    version: str

    def risk(self, x: pd.DataFrame) -> np.ndarray: ...

    def top_signals(self, x: pd.DataFrame, k: int = 3) -> list[list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class Score:
    charge_point_id: str
    at: pd.Timestamp
    risk: float
    alert: bool
    signals: list[dict[str, Any]]
    failure_mode: str | None


def likely_failure_mode(signals: list[dict[str, Any]]) -> str | None:
    """The failure mode the strongest signal points at, if it points at one (pure)."""
    for signal in signals:
        for prefix, mode in MODE_OF_SIGNAL.items():
            if signal["name"].startswith(prefix):
                return mode
    return None


def days_in_service(
    charge_points: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
) -> pd.MultiIndex:
    """(charge_point_id, day) of every day in [first, last] each charger was in service."""
    pairs = []
    for cp, commissioned in zip(
        charge_points["charge_point_id"], charge_points["commissioned_at"], strict=True
    ):
        start = max(first, commissioned.floor("D")) if pd.notna(commissioned) else first
        pairs += [(cp, day) for day in pd.date_range(start, last, freq="D")]
    return pd.MultiIndex.from_tuples(pairs, names=["charge_point_id", "day"])


def sums_by_day(telemetry, index: pd.MultiIndex) -> pd.DataFrame:
    """The daily sums of `telemetry` on exactly the (charge_point_id, day) rows of `index`."""
    sums = daily_aggregates(telemetry)
    return sums.reindex(index, fill_value=0.0) if len(index) else sums.iloc[:0]


class FeatureState:
    """Whole days' sums of the charge points one scoring actor looks after."""

    def __init__(self) -> None:
        self.whole_days = pd.DataFrame()

    def days_missing(self, index: pd.MultiIndex) -> pd.MultiIndex:
        return index if self.whole_days.empty else index.difference(self.whole_days.index)

    def add(self, sums: pd.DataFrame, keep_from: pd.Timestamp) -> None:
        """Take in whole days' sums; forget days before `keep_from`."""
        frames = [f for f in (self.whole_days, sums) if not f.empty]
        if not frames:
            return
        merged = pd.concat(frames)
        merged = merged[~merged.index.duplicated(keep="last")]
        days = merged.index.get_level_values("day")
        self.whole_days = merged[days >= keep_from].sort_index().fillna(0.0)

    def of(self, charge_point_ids: Sequence[str]) -> pd.DataFrame:
        if self.whole_days.empty:
            return self.whole_days
        cps = self.whole_days.index.get_level_values("charge_point_id")
        return self.whole_days[cps.isin(list(charge_point_ids))]


def load_stored_days(
    conn: psycopg.Connection, charge_point_ids: Sequence[str], first: pd.Timestamp
) -> pd.DataFrame:
    """Whole days' sums kept in `telemetry_daily` from `first` on."""
    rows = conn.execute(
        """SELECT charge_point_id, day, sums FROM telemetry_daily
           WHERE charge_point_id = ANY(%s) AND day >= %s""",
        (list(charge_point_ids), first.date()),
    ).fetchall()
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame([r[2] for r in rows])
    frame.index = pd.MultiIndex.from_arrays(
        [[r[0] for r in rows], pd.DatetimeIndex([r[1] for r in rows]).tz_localize("UTC")],
        names=["charge_point_id", "day"],
    )
    return frame


def sum_and_store_days(conn: psycopg.Connection, index: pd.MultiIndex) -> pd.DataFrame:
    """Sum whole days from the raw telemetry and keep them in `telemetry_daily`."""
    if not len(index):
        return pd.DataFrame()
    cps = sorted(set(index.get_level_values("charge_point_id")))
    days = index.get_level_values("day")
    telemetry = read_telemetry(conn, days.min(), days.max() + ONE_DAY, cps)
    sums = sums_by_day(telemetry, index)
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_daily (charge_point_id, day, sums) VALUES (%s, %s, %s)
               ON CONFLICT (charge_point_id, day)
               DO UPDATE SET sums = EXCLUDED.sums, computed_at = now()""",
            [
                (cp, day.date(), json.dumps({k: float(v) for k, v in row.items()}))
                for (cp, day), row in zip(sums.index, sums.to_dict("records"), strict=True)
            ],
        )
    return sums


def score_charge_points(
    conn: psycopg.Connection,
    model: RiskModel,
    state: FeatureState,
    charge_point_ids: Sequence[str],
    at: pd.Timestamp,
) -> list[Score]:
    """Bring the state's whole days up to yesterday, add today so far, and score each
    charge point in service among `charge_point_ids` at `at`."""
    today = at.floor("D")
    first = today - LOOKBACK_DAYS * ONE_DAY
    telemetry_today = read_telemetry(conn, today, at, charge_point_ids)
    charge_points = telemetry_today.charge_points
    if charge_points.empty:
        return []
    cps = charge_points["charge_point_id"].tolist()
    whole = days_in_service(charge_points, first, today - ONE_DAY)
    missing = state.days_missing(whole)
    if len(missing):
        state.add(load_stored_days(conn, cps, first), keep_from=first)
        state.add(sum_and_store_days(conn, state.days_missing(whole)), keep_from=first)
    daily = pd.concat(
        [
            state.of(cps),
            sums_by_day(telemetry_today, days_in_service(charge_points, today, today)),
        ]
    ).fillna(0.0)
    x = features_at(daily, charge_points, at)
    risks = model.risk(x)
    signals = model.top_signals(x)
    return [
        Score(
            charge_point_id=cp,
            at=at,
            risk=round(float(risk), 4),
            alert=bool(risk >= model.threshold),
            signals=top,
            failure_mode=likely_failure_mode(top),
        )
        for cp, risk, top in zip(
            x.index.get_level_values("charge_point_id"), risks, signals, strict=True
        )
    ]


def record_scores(conn: psycopg.Connection, scores: Sequence[Score], model: RiskModel) -> int:
    """Raise an alert for each score at or above the threshold on a charger without an open
    one. An open alert keeps the highest risk seen until the repair, with its signals (a
    charger does not get better by itself). Returns how many were raised."""
    raised = 0
    for s in scores:
        params = {
            "cp": s.charge_point_id,
            "risk": s.risk,
            "horizon": model.horizon_hours,
            "mode": s.failure_mode,
            "signals": json.dumps(s.signals),
            "version": model.version,
            "alert": s.alert,
        }
        cur = conn.execute(
            """WITH open AS (
                   UPDATE alerts SET risk = %(risk)s, signals = %(signals)s,
                          failure_mode = COALESCE(%(mode)s, failure_mode),
                          model_version = %(version)s
                   WHERE charge_point_id = %(cp)s AND cleared_at IS NULL
                     AND source = 'failure_prediction' AND risk < %(risk)s RETURNING id)
               INSERT INTO alerts
                   (charge_point_id, risk, horizon_hours, failure_mode, signals, model_version)
               SELECT %(cp)s, %(risk)s, %(horizon)s, %(mode)s, %(signals)s, %(version)s
               WHERE %(alert)s AND NOT EXISTS (SELECT 1 FROM alerts
                                 WHERE charge_point_id = %(cp)s AND cleared_at IS NULL
                                   AND source = 'failure_prediction')""",
            params,
        )
        raised += cur.rowcount
    return raised
