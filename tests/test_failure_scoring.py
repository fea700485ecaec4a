"""Failure prediction live: the scoring actors of the running system score chargers from their
telemetry and raise alerts, seen through REST and MCP; a model of one's own plugs in."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from actors.failure_scorer import bootstrap_failure_model
from ml.deploy import deploy, withdraw
from ml.generate import FleetSpec, generate
from ml.history import import_telemetry
from ml.model import evaluate_model
from ml.telemetry import Telemetry
from sigecve.simulator.charge_point import FailurePlan, SimulationCounters, SimulationProfile
from sigecve.simulator.fleet import run_charge_point
from tests.conftest import eventually, unique_id
from tests.test_mcp import mcp_client, structured
from tests.test_system import PASSWORD, charger

TAG = "ML-TAG"


async def register(system, cp_id: str) -> None:
    async with system.api() as api:
        r = await api.post("/charge-points", json={"id": cp_id, "password": PASSWORD})
        assert r.status_code == 201, r.text
        await api.post("/id-tags", json={"id_tag": TAG})


def history(cp_id: str, days: int, seed: int, wearing: tuple[str, float, float] | None = None):
    """`days` of `cp_id`'s generated telemetry up to now; with `wearing` (mode, days of
    precursors so far, seconds until the fault) its last days show the failure coming. The
    work order of that coming failure is not part of the past."""
    now = datetime.now(UTC)
    planned = ()
    if wearing is not None:
        mode, precursor_days, fault_in_s = wearing
        planned = ((0, mode, now + timedelta(seconds=fault_in_s), precursor_days),)
    t = generate(
        FleetSpec(
            charge_points=1,
            days=days,
            failures_per_year=0,
            start=now - timedelta(days=days),
            seed=seed,
            planned=planned,
        )
    )
    until = pd.Timestamp(now)
    times = {
        "transactions": "stopped_at",
        "meter_values": "timestamp",
        "status_events": "timestamp",
        "connectivity": "timestamp",
    }
    tables = {}
    for name in ("charge_points", "meter_values", "status_events", "transactions", "connectivity"):
        frame = getattr(t, name).assign(charge_point_id=cp_id)
        if name in times:
            frame = frame[frame[times[name]] < until]
        tables[name] = frame
    return Telemetry(**tables, maintenance=t.maintenance.iloc[:0])


@contextlib.contextmanager
def deployed(model, database_url: str):
    deploy(model, database_url)
    try:
        yield model
    finally:
        withdraw(model.version, database_url)


async def open_alerts(system, token: str, cp_id: str) -> list[dict]:
    async with system.api(token) as api:
        r = await api.get("/alerts", params={"charge_point_id": cp_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture(scope="module")
def failure_model():
    """The model `sigecve up` trains when none is deployed, on a generated fleet."""
    model = bootstrap_failure_model()
    assert model.version.startswith("generated-")
    return model


async def test_a_degrading_connector_is_alerted_before_it_faults(
    system, tokens, database_url, failure_model
):
    cp_id = unique_id("MLCONN")
    await register(system, cp_id)
    # Its past: 35 days of telemetry up to now, the connector wearing out over the last 5.
    precursor_days, fault_in_s = 5.0, 20.0
    past = history(cp_id, 35, seed=11, wearing=("connector", precursor_days, fault_in_s))
    counts = import_telemetry(database_url, past)
    assert counts["transactions"] > 100 and counts["connectivity"] > 800

    with deployed(failure_model, database_url):
        async with system.api(tokens["viewer"]) as api:
            r = await api.get("/failure-model")
            assert r.status_code == 200, r.text
            assert r.json()["version"] == failure_model.version
        # It goes on wearing out live (more heat per A^2, failed starts), then faults in 20 s.
        # Sessions are seconds long so that live sessions come in before the fault.
        precursor_s = precursor_days * 86400
        plan = FailurePlan("connector", time.monotonic() + fault_in_s - precursor_s, precursor_s)
        profile = SimulationProfile(
            connectors=2,
            meter_interval_s=0.3,
            session_s=(0.8, 1.5),
            idle_s=(0.1, 0.3),
            id_tags=(TAG,),
            failure=plan,
        )
        counters = SimulationCounters()
        charging = asyncio.create_task(
            run_charge_point(system.ocpp_url, cp_id, PASSWORD, profile, counters, random.Random(5))
        )
        try:
            alert = (
                await eventually(
                    lambda: open_alerts(system, tokens["viewer"], cp_id),
                    within=60,
                    interval=0.5,
                    message="no alert before the fault",
                )
            )[0]

            async def faulted():
                async with system.api(tokens["viewer"]) as api:
                    cp = (await api.get(f"/charge-points/{cp_id}")).json()
                return any(c["status"] == "Faulted" for c in cp["connectors"])

            await eventually(faulted, within=60, interval=0.5, message="it never faulted")
        finally:
            charging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await charging
    with psycopg.connect(database_url) as conn:
        (fault_at,) = conn.execute(
            """SELECT min(timestamp) FROM status_events
               WHERE charge_point_id = %s AND status = 'Faulted'""",
            (cp_id,),
        ).fetchone()
    raised_at = datetime.fromisoformat(alert["raised_at"])
    assert raised_at < fault_at, (raised_at, fault_at)
    assert alert["model_version"] == failure_model.version
    assert alert["risk"] >= failure_model.threshold
    assert alert["signals"], alert
    assert counters.sessions_started > 5

    # The same alert through MCP: the risk tool and the diagnosis.
    async with mcp_client(system, tokens["viewer"]) as viewer:
        risk = structured(await viewer.call_tool("get_failure_risk", {"charge_point_id": cp_id}))
        assert risk["alert_id"] == alert["id"] and risk["risk"] >= alert["risk"]
        diagnosis = structured(
            await viewer.call_tool("diagnose_charge_point", {"charge_point_id": cp_id})
        )
        assert diagnosis["risk"]["alert_id"] == alert["id"]
    # The repair clears it.
    async with system.api(tokens["operator"]) as op:
        r = await op.post(f"/charge-points/{cp_id}/work-orders", json={"failure_mode": "connector"})
        r = await op.post(f"/work-orders/{r.json()['id']}/restore", json={})
        assert r.json()["alerts_cleared"] == 1
    assert await open_alerts(system, tokens["viewer"], cp_id) == []


class ErrorCodeRule:
    """A data scientist's own model: alert on any error code in the last week."""

    features = ["error_codes_7d"]
    threshold = 0.5
    horizon_hours = 72.0
    version = "rule-of-thumb-1"

    def risk(self, x: pd.DataFrame) -> np.ndarray:
        return (x["error_codes_7d"].to_numpy() >= 1).astype(float) * 0.9

    def top_signals(self, x: pd.DataFrame, k: int = 3) -> list[list[dict]]:
        return [
            [{"name": "error_codes_7d", "value": float(v), "contribution": float(v)}]
            for v in x["error_codes_7d"]
        ]


async def test_a_model_of_ones_own_is_evaluated_then_deployed_to_the_scoring_actors(
    system, tokens, database_url
):
    rule = ErrorCodeRule()
    report = evaluate_model(rule, generate(FleetSpec(charge_points=30, days=120, seed=2)))
    assert report["model"]["threshold"] == 0.5 and report["model"]["failures"] > 0
    assert "baseline_error_code_count" in report

    cp_id = unique_id("MLRULE")
    await register(system, cp_id)
    with deployed(rule, database_url):
        async with system.api(tokens["viewer"]) as api:
            assert (await api.get("/failure-model")).json()["version"] == rule.version
        async with charger(system, cp_id) as cp:
            await cp.boot()
            await cp.report_error(1, "GroundFailure")
            (alert,) = await eventually(
                lambda: open_alerts(system, tokens["viewer"], cp_id),
                within=30,
                message="the deployed rule raised no alert",
            )
    assert (alert["model_version"], alert["risk"]) == (rule.version, 0.9)
    assert alert["signals"] == [{"name": "error_codes_7d", "value": 1.0, "contribution": 1.0}]
    assert alert["failure_mode"] is None  # "some error code" points at no mode
    async with system.api(tokens["viewer"]) as api:
        r = await api.get("/failure-model")
    assert r.status_code == 404  # withdrawn: nothing deployed, scoring stops


def test_a_mass_drop_waits_for_the_scheduled_run_but_faults_are_scored_at_once():
    from actors.failure_scorer import MASS_DROPS, to_score_after_events

    assert to_score_after_events({"F"}, {"D1", "D2"}) == ["D1", "D2", "F"]
    many = {f"D{i}" for i in range(MASS_DROPS + 1)}
    assert to_score_after_events({"F"}, many) == ["F"]
