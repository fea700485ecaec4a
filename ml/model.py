"""Training, time-ordered evaluation and scoring of failure prediction (scikit-learn).

The model is gradient boosting on the daily features, its probabilities calibrated on a
later validation period (sigmoid), and an alert threshold chosen on that same period. The
periods follow each other in time with a gap of at least the horizon between them, so no
failure's precursors lie on both sides of a split. The baseline is the rule operators use:
alert when a charger reported at least k error codes in the last 7 days (k chosen on
validation too).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, roc_auc_score

from ml.features import FEATURES, build_features, labels
from ml.live import RiskModel
from ml.telemetry import Telemetry

DEFAULT_HORIZON = pd.Timedelta(hours=72)
TOP_SIGNALS = 3


@dataclass(frozen=True)
class Split:
    """[start, train_end) train, [validation_start, validation_end) validation, then test
    from test_start: each later period starts a gap of at least the horizon after the last."""

    train_end: pd.Timestamp
    validation_start: pd.Timestamp
    validation_end: pd.Timestamp
    test_start: pd.Timestamp


def time_split(days: pd.DatetimeIndex, horizon: pd.Timedelta, shares=(0.5, 0.2)) -> Split:
    """Train on the first half of the days, validate on the next fifth, test on the rest,
    with a gap of ceil(horizon) days between the periods (pure)."""
    first, last = days.min(), days.max()
    span = last - first
    gap = pd.Timedelta(days=int(np.ceil(horizon / pd.Timedelta(days=1))))
    train_end = first + span * shares[0]
    validation_start = train_end + gap
    validation_end = validation_start + span * shares[1]
    return Split(train_end, validation_start, validation_end, validation_end + gap)


@dataclass
class Metrics:
    pr_auc: float | None
    prevalence: float
    roc_auc: float | None
    threshold: float
    precision_at_threshold: float | None
    recall_at_threshold: float | None
    event_recall: float | None
    failures: int
    mean_lead_time_hours: float | None
    false_alerts_per_charger_year: float
    recall_by_mode: dict[str, float | None] = field(default_factory=dict)


def evaluate_alerts(
    scores: np.ndarray, threshold: float, target: pd.DataFrame, horizon: pd.Timedelta
) -> Metrics:
    """Snapshot and event metrics of alerting when `scores >= threshold` (pure).

    `target`: the `labels` rows of the snapshots (index charge_point_id, day)."""
    y = target["label"].to_numpy(dtype=bool)
    alert = scores >= threshold
    positives = target[y].assign(alert=alert[y], day=target.index.get_level_values("day")[y])
    charge_point = positives.index.get_level_values("charge_point_id")
    detected, leads, by_mode = [], [], {}
    for (_, failure_at), rows in positives.groupby([charge_point, "failure_at"]):
        alerted_days = rows.loc[rows["alert"], "day"]
        hit = len(alerted_days) > 0
        detected.append(hit)
        by_mode.setdefault(rows["failure_mode"].iloc[0], []).append(hit)
        if hit:
            leads.append((failure_at - alerted_days.min()) / pd.Timedelta(hours=1))
    charger_years = len(target) / 365.0
    has_both = 0 < y.sum() < len(y)
    return Metrics(
        pr_auc=round(float(average_precision_score(y, scores)), 4) if has_both else None,
        prevalence=round(float(y.mean()), 5),
        roc_auc=round(float(roc_auc_score(y, scores)), 4) if has_both else None,
        threshold=round(float(threshold), 4),
        precision_at_threshold=round(float(y[alert].mean()), 4) if alert.any() else None,
        recall_at_threshold=round(float(alert[y].mean()), 4) if y.any() else None,
        event_recall=round(float(np.mean(detected)), 4) if detected else None,
        failures=len(detected),
        mean_lead_time_hours=round(float(np.mean(leads)), 1) if leads else None,
        false_alerts_per_charger_year=round(float((alert & ~y).sum() / charger_years), 2),
        recall_by_mode={m: round(float(np.mean(v)), 4) for m, v in sorted(by_mode.items())},
    )


def best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The threshold of the best F1 on these scores (pure)."""
    candidates = np.unique(scores)
    best, best_f1 = 1.0, -1.0
    for t in candidates[::-1]:
        alert = scores >= t
        tp = (alert & y).sum()
        if tp == 0:
            continue
        f1 = 2 * tp / (alert.sum() + y.sum())
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


@dataclass
class FailureModel:
    """A trained model with what it needs to score and to explain a score."""

    estimator: Any
    features: list[str]
    horizon_hours: float
    threshold: float
    healthy_median: dict[str, float]
    healthy_scale: dict[str, float]
    importance: dict[str, float]
    version: str
    trained_at: str
    metrics: dict[str, Any] = field(default_factory=dict)

    def risk(self, x: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(x[self.features])[:, 1]

    def top_signals(self, x: pd.DataFrame, k: int = TOP_SIGNALS) -> list[list[dict[str, Any]]]:
        """Per row, the features furthest from a healthy charger's, weighted by how much the
        model relies on them: a readable approximation of what raised the risk."""
        med = pd.Series(self.healthy_median)
        scale = pd.Series(self.healthy_scale)
        weight = pd.Series(self.importance)
        z = ((x[self.features] - med) / scale).abs().fillna(0.0) * weight
        out = []
        for i, row in enumerate(z.to_numpy()):
            order = np.argsort(row)[::-1][:k]
            out.append(
                [
                    {
                        "name": self.features[j],
                        "value": _json_number(x.iloc[i, x.columns.get_loc(self.features[j])]),
                        "contribution": round(float(row[j]), 4),
                    }
                    for j in order
                    if row[j] > 0
                ]
            )
        return out


def _json_number(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)


def dataset(t: Telemetry, horizon: pd.Timedelta) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels of every snapshot not taken during an outage."""
    x = build_features(t)
    target = labels(t, x.index, horizon)
    keep = ~target["in_outage"].to_numpy()
    return x[keep], target[keep]


def _period(frame: pd.DataFrame, start=None, end=None) -> np.ndarray:
    days = frame.index.get_level_values("day")
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= days >= start
    if end is not None:
        mask &= days < end
    return mask


def train(
    t: Telemetry, horizon: pd.Timedelta = DEFAULT_HORIZON, seed: int = 0
) -> tuple[FailureModel, dict[str, Any]]:
    """Train on the first period, calibrate and choose thresholds on the validation period,
    evaluate on the test period; the model and the evaluation report (model and baseline)."""
    x, target = dataset(t, horizon)
    return train_on(x, target, horizon, seed)


def train_on(
    x: pd.DataFrame, target: pd.DataFrame, horizon: pd.Timedelta, seed: int = 0
) -> tuple[FailureModel, dict[str, Any]]:
    """`train` on features and labels already computed (`dataset`, or in parallel on Ray)."""
    split = time_split(x.index.get_level_values("day"), horizon)
    tr = _period(x, end=split.train_end)
    va = _period(x, split.validation_start, split.validation_end)
    y = target["label"].to_numpy(dtype=bool)
    boosted = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.05,
        max_leaf_nodes=15,
        class_weight="balanced",
        random_state=seed,
    ).fit(x[tr], y[tr])
    calibrated = CalibratedClassifierCV(FrozenEstimator(boosted), method="sigmoid")
    calibrated.fit(x[va], y[va])
    validation_scores = calibrated.predict_proba(x[va])[:, 1]
    threshold = best_threshold(validation_scores, y[va])
    healthy = x[tr][~y[tr]]
    scale = (healthy.quantile(0.75) - healthy.quantile(0.25)).replace(0, np.nan)
    scale = scale.fillna(healthy.std()).replace(0, 1.0).fillna(1.0)
    importance = _importance(calibrated, x[va], y[va], seed)
    model = FailureModel(
        estimator=calibrated,
        features=list(FEATURES),
        horizon_hours=horizon / pd.Timedelta(hours=1),
        threshold=threshold,
        healthy_median=healthy.median().fillna(0.0).to_dict(),
        healthy_scale=scale.to_dict(),
        importance=importance,
        version=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        trained_at=datetime.now(UTC).isoformat(),
    )
    report = evaluate_on(model, x, target)
    report["feature_importance"] = dict(sorted(importance.items(), key=lambda kv: -kv[1]))
    model.metrics = report
    return model, report


def evaluate_model(model: RiskModel, t: Telemetry) -> dict[str, Any]:
    """Any model's evaluation on the test period of `t` (the split `train` uses), at its own
    threshold, beside the error-code rule: how to judge your own model before deploying it."""
    x, target = dataset(t, pd.Timedelta(hours=model.horizon_hours))
    return evaluate_on(model, x, target)


def evaluate_on(model: RiskModel, x: pd.DataFrame, target: pd.DataFrame) -> dict[str, Any]:
    """The test-period report of `model` on features and labels already computed."""
    horizon = pd.Timedelta(hours=model.horizon_hours)
    split = time_split(x.index.get_level_values("day"), horizon)
    tr = _period(x, end=split.train_end)
    va = _period(x, split.validation_start, split.validation_end)
    te = _period(x, split.test_start)
    y = target["label"].to_numpy(dtype=bool)
    rule_scores = x["error_codes_7d"].to_numpy(dtype=float)
    rule_threshold = best_threshold(rule_scores[va], y[va])
    test_target = target[te]
    return {
        "horizon_hours": model.horizon_hours,
        "split": {k: str(v) for k, v in asdict(split).items()},
        "snapshots": {"train": int(tr.sum()), "validation": int(va.sum()), "test": int(te.sum())},
        "charge_points": int(x.index.get_level_values("charge_point_id").nunique()),
        "model": asdict(evaluate_alerts(model.risk(x[te]), model.threshold, test_target, horizon)),
        "baseline_error_code_count": asdict(
            evaluate_alerts(rule_scores[te], rule_threshold, test_target, horizon)
        ),
    }


def _importance(estimator: Any, x: pd.DataFrame, y: np.ndarray, seed: int) -> dict[str, float]:
    """Permutation importance (drop in average precision) on the validation period."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        estimator, x, y, scoring="average_precision", n_repeats=3, random_state=seed, n_jobs=1
    )
    return {
        f: round(max(float(v), 0.0), 5)
        for f, v in zip(x.columns, result.importances_mean, strict=True)
    }


def score(model: RiskModel, t: Telemetry, at: pd.Timestamp | None = None) -> pd.DataFrame:
    """Risk per charge point at the latest snapshot day (or `at`), with its top signals."""
    x = build_features(t)
    day = at.floor("D") if at is not None else x.index.get_level_values("day").max()
    x = x[x.index.get_level_values("day") == day]
    risks = model.risk(x)
    return pd.DataFrame(
        {
            "charge_point_id": x.index.get_level_values("charge_point_id"),
            "timestamp": x.index.get_level_values("day"),
            "risk": np.round(risks, 4),
            "horizon_hours": model.horizon_hours,
            "alert": risks >= model.threshold,
            "top_signals": [json.dumps(s) for s in model.top_signals(x)],
        }
    )


def model_metadata(model: RiskModel) -> dict[str, Any]:
    """What a store keeps beside a model: its version, features, horizon, threshold, metrics."""
    return {
        "version": model.version,
        "trained_at": getattr(model, "trained_at", None),
        "features": list(model.features),
        "horizon_hours": model.horizon_hours,
        "threshold": model.threshold,
        "metrics": getattr(model, "metrics", {}),
    }


class ModelStore:
    """Versioned models on disk: `<root>/<version>/model.pkl` (cloudpickle, so a model class
    defined in a notebook travels with it) and `metadata.json` (its metrics, features,
    horizon, threshold), and `<root>/current` naming the one in use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, model: RiskModel, *, make_current: bool = True) -> Path:
        directory = self.root / model.version
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "model.pkl").write_bytes(cloudpickle.dumps(model))
        metadata = json.dumps(model_metadata(model), indent=2, default=str)
        (directory / "metadata.json").write_text(metadata)
        if make_current:
            (self.root / "current").write_text(model.version + "\n")
        return directory

    def load(self, version: str | None = None) -> RiskModel:
        if version is None:
            current = self.root / "current"
            if not current.is_file():
                raise FileNotFoundError(f"no model in {self.root}: train one first")
            version = current.read_text().strip()
        path = self.root / version / "model.pkl"
        if not path.is_file():
            raise FileNotFoundError(f"no model {version!r} in {self.root}")
        return pickle.loads(path.read_bytes())

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "model.pkl").is_file())
