"""Failure prediction, the data-science side: tables, features without leakage, labels from
maintenance, time-ordered evaluation, the model against the error-code rule, the store, the
CLI, and the export from a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from actors.failure_scorer import is_notable
from composition.cli import main
from ml.export import export
from ml.features import build_features, daily_aggregates, day_weights, features_at, labels
from ml.generate import FleetSpec, generate
from ml.live import days_in_service, likely_failure_mode
from ml.model import ModelStore, evaluate_alerts, score, time_split, train
from ml.ray_job import CHUNK
from ml.telemetry import TABLES, TelemetryError, conform, load
from sigecve.simulator.charge_point import FailurePlan
from sigecve.simulator.failure_modes import Degradation
from tests.conftest import unique_id

HORIZON = pd.Timedelta(hours=72)


@pytest.fixture(scope="module")
def fleet():
    return generate(FleetSpec(charge_points=80, days=240, seed=3))


@pytest.fixture(scope="module")
def trained(fleet):
    return train(fleet, HORIZON)


def test_a_table_without_a_required_column_is_named(tmp_path):
    frame = pd.DataFrame({"charge_point_id": ["A"], "timestamp": [datetime.now(UTC)]})
    with pytest.raises(TelemetryError, match=r"connectivity: missing required column.*event"):
        conform("connectivity", frame)
    with pytest.raises(TelemetryError, match="charge_points: no"):
        load(tmp_path)


def test_the_tables_round_trip_through_parquet(fleet, tmp_path):
    fleet.save(tmp_path)
    again = load(tmp_path)
    for name, (required, optional, _) in TABLES.items():
        assert list(getattr(again, name).columns) == list(required + optional)
        assert len(getattr(again, name)) == len(getattr(fleet, name))


def test_features_see_only_the_past(fleet):
    day = pd.Timestamp("2026-05-01", tz="UTC")
    before = build_features(fleet).xs(day, level="day")
    # Everything from that day on changes: the snapshot of that day must not.
    later = fleet.meter_values["timestamp"] >= day
    changed = type(fleet)(**vars(fleet))
    changed.meter_values = fleet.meter_values.assign(
        value=np.where(later, fleet.meter_values["value"] * 5, fleet.meter_values["value"])
    )
    after = build_features(changed).xs(day, level="day")
    pd.testing.assert_frame_equal(before, after)


def test_labels_come_from_maintenance_within_the_horizon(fleet):
    x = build_features(fleet)
    target = labels(fleet, x.index, HORIZON)
    failure = fleet.maintenance.iloc[0]
    mine = target.xs(failure.charge_point_id, level="charge_point_id")
    days = mine.index
    expected = (days < failure.failed_at) & (days >= failure.failed_at - HORIZON)
    assert (mine["label"].to_numpy() | ~expected).all()
    assert mine.loc[expected, "failure_mode"].eq(failure.failure_mode).all()
    outage = (days >= failure.failed_at) & (days < failure.restored_at)
    assert mine.loc[outage, "in_outage"].all()


def test_the_split_leaves_a_horizon_between_periods():
    days = pd.date_range("2026-01-01", periods=100, freq="D", tz="UTC")
    split = time_split(days, pd.Timedelta(hours=60))
    assert split.validation_start - split.train_end >= pd.Timedelta(hours=60)
    assert split.test_start - split.validation_end >= pd.Timedelta(hours=60)
    assert split.train_end < split.validation_start < split.validation_end < split.test_start


def test_event_metrics_of_a_hand_made_case():
    days = pd.date_range("2026-01-01", periods=6, freq="D", tz="UTC")
    index = pd.MultiIndex.from_product([["A"], days], names=["charge_point_id", "day"])
    failure_at = days[4] + pd.Timedelta(hours=12)
    target = pd.DataFrame(
        {
            "label": [False, False, True, True, True, False],
            "failure_at": [pd.NaT, pd.NaT, failure_at, failure_at, failure_at, pd.NaT],
            "failure_mode": [None, None, "reader", "reader", "reader", None],
        },
        index=index,
    )
    scores = np.array([0.9, 0.1, 0.2, 0.8, 0.9, 0.1])
    m = evaluate_alerts(scores, 0.5, target, HORIZON)
    assert (m.failures, m.event_recall, m.recall_by_mode) == (1, 1.0, {"reader": 1.0})
    assert m.mean_lead_time_hours == 36.0  # alerted first on day 3, failed at day 4 noon
    assert m.recall_at_threshold == pytest.approx(2 / 3, abs=1e-4)
    assert m.false_alerts_per_charger_year == pytest.approx(365 / 6, abs=0.01)


def test_the_model_beats_the_error_code_rule_on_unseen_months(trained):
    model, report = trained
    ours, rule = report["model"], report["baseline_error_code_count"]
    assert report["model"]["failures"] >= 15
    assert ours["pr_auc"] > 2 * ours["prevalence"]
    assert ours["pr_auc"] > rule["pr_auc"]
    assert ours["event_recall"] > rule["event_recall"]
    assert ours["mean_lead_time_hours"] > 12
    assert set(ours["recall_by_mode"]) <= {
        "communication",
        "connector",
        "ground_fault",
        "meter",
        "power_electronics",
        "reader",
    }
    assert 0 < model.threshold < 1


def test_the_store_keeps_versions_and_scores_have_the_contracts_columns(trained, fleet, tmp_path):
    model, _ = trained
    store = ModelStore(tmp_path / "models")
    store.save(model)
    assert store.versions() == [model.version]
    loaded = store.load()
    scores = score(loaded, fleet)
    assert list(scores.columns[:4]) == ["charge_point_id", "timestamp", "risk", "horizon_hours"]
    assert len(scores) == 80 and scores["risk"].between(0, 1).all()
    assert (scores["timestamp"] == scores["timestamp"].iloc[0]).all()
    with pytest.raises(FileNotFoundError):
        store.load("no-such-version")


def test_the_cli_generates_trains_and_scores(tmp_path, capsys):
    data, models = tmp_path / "data", tmp_path / "models"
    assert (
        main(["ml", "generate", "--out", str(data), "--charge-points", "30", "--days", "90"]) == 0
    )
    report = tmp_path / "report.json"
    args = ["--data", str(data), "--models", str(models), "--report", str(report)]
    assert main(["ml", "train", *args]) == 0
    out = capsys.readouterr().out
    assert "| PR-AUC |" in out and "| event recall, " in out and report.is_file()
    scores = tmp_path / "scores.csv"
    assert (
        main(["ml", "score", "--data", str(data), "--models", str(models), "--out", str(scores)])
        == 0
    )
    assert pd.read_csv(scores)["charge_point_id"].nunique() == 30
    assert main(["ml", "evaluate", "--data", str(tmp_path / "nothing")]) == 2
    assert "no " in capsys.readouterr().err


def test_export_reads_the_contracts_tables_from_the_database(database_url, tmp_path):
    cp_id = unique_id("ML")
    now = datetime.now(UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO charge_points (id, vendor) VALUES (%s, 'ABB')", (cp_id,))
        conn.execute(
            """INSERT INTO maintenance (charge_point_id, failed_at, restored_at, failure_mode)
               VALUES (%s, %s, %s, 'reader')""",
            (cp_id, now - timedelta(days=2), now - timedelta(days=1)),
        )
        conn.execute(
            """INSERT INTO status_events (charge_point_id, connector_id, status,
                                          error_code, timestamp)
               VALUES (%s, 1, 'Faulted', 'ReaderFailure', %s)""",
            (cp_id, now - timedelta(days=2)),
        )
    telemetry = export(database_url, pd.Timestamp(now - timedelta(days=30)))
    telemetry.save(tmp_path / "export")
    again = load(Path(tmp_path / "export"))
    assert cp_id in set(again.charge_points["charge_point_id"])
    mine = again.maintenance[again.maintenance["charge_point_id"] == cp_id]
    assert mine["failure_mode"].tolist() == ["reader"]
    assert "ReaderFailure" in set(again.status_events["error_code"])


def test_live_features_at_midnight_are_the_offline_ones(fleet):
    """Train/serve parity: the scoring actors' features (days so far, `features_at`) equal
    training's (`build_features`) at a snapshot."""
    day = pd.Timestamp("2026-05-20", tz="UTC")
    daily = daily_aggregates(fleet)
    first = daily.index.get_level_values("day").min()
    index = days_in_service(fleet.charge_points.assign(commissioned_at=first), first, day)
    past = daily.reindex(index, fill_value=0.0)
    past = past[past.index.get_level_values("day") < day]
    live = features_at(past, fleet.charge_points, day)
    offline = build_features(fleet).xs(day, level="day", drop_level=False)
    pd.testing.assert_frame_equal(live, offline, rtol=1e-9)


def test_a_window_counts_the_share_of_a_day_inside_it():
    days = pd.date_range("2026-03-01", "2026-03-09", freq="D", tz="UTC")
    at = pd.Timestamp("2026-03-09 06:00", tz="UTC")  # a quarter into the 9th
    weights = dict(zip(days.day, day_weights(days, at, back=0, length=7), strict=True))
    # The 9th so far counts whole; the 2nd, cut at 06:00, for the three quarters inside.
    assert weights == {1: 0, 2: 0.75, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1}
    before = dict(zip(days.day, day_weights(days, at, back=7, length=1), strict=True))
    assert before == {1: 0.75, 2: 0.25, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}


def test_a_simulated_failure_ramps_up_then_faults():
    plan = FailurePlan("connector", starts_at=100.0, precursor_s=50.0)
    assert plan.degradation(99.0) == Degradation()
    half = plan.degradation(125.0)
    assert (half.mode, half.degree) == ("connector", 0.5)
    assert half.temperature_c(20, 0.01, 20) == pytest.approx(20 + 0.01 * 400 * 1.75)
    assert half.failed_start_probability() == pytest.approx(0.03 + 0.075)
    assert plan.degradation(500.0).degree == 1.0 and plan.faults_at == 150.0
    assert Degradation("power_electronics", 1.0).drawn_w(10_000) == pytest.approx(6_000)


def test_which_events_get_a_charger_scored_and_what_its_signals_point_at():
    assert is_notable({"type": "transaction_stopped"})
    assert is_notable({"type": "connector_status", "status": "Available", "error_code": "x"})
    assert is_notable({"type": "connector_status", "status": "Faulted", "error_code": "NoError"})
    assert not is_notable(
        {"type": "connector_status", "status": "Charging", "error_code": "NoError"}
    )
    assert is_notable({"type": "connection", "connected": False})
    assert not is_notable({"type": "power"})
    signals = [{"name": "heartbeat_ratio_1d"}, {"name": "temp_per_amp2_drift"}]
    assert likely_failure_mode(signals) == "communication"
    assert likely_failure_mode([{"name": "sessions_7d"}]) is None


def test_the_ray_job_evaluates_in_parallel_as_the_cli_does(tmp_path):
    """`python -m ml.ray_job evaluate` (what `ray job submit` runs): features computed in
    Ray tasks over chunks of charge points give the single-process evaluation exactly."""
    data = tmp_path / "data"
    generate(FleetSpec(charge_points=2 * CHUNK, days=120, seed=4)).save(data)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own local Ray
    job = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml.ray_job",
            "evaluate",
            "--data",
            str(data),
            "--report",
            str(tmp_path / "job.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert job.returncode == 0, job.stderr[-2000:]
    assert (
        main(["ml", "evaluate", "--data", str(data), "--report", str(tmp_path / "cli.json")]) == 0
    )
    parallel = json.loads((tmp_path / "job.json").read_text())
    single = json.loads((tmp_path / "cli.json").read_text())
    assert parallel["snapshots"] == single["snapshots"]
    assert parallel["model"] == single["model"]
