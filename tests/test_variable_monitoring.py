"""Variable monitoring: monitors set on a 2.x station's variables (checked against its device
model first), kept as the station holds them, and its alerting events raising alerts until
it reports them cleared. The rules by hand; the events through the charge point sessions;
end to end against the simulated stations, which keep monitors as the spec says (N04-N07)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import psycopg
import pytest

from ml.live import Score, record_scores
from sigecve.services import alerts, diagnostics
from sigecve.variable_monitoring import (
    MonitoringEvent,
    clears_alert,
    monitor_problem,
    monitoring_events,
    monitors_accepted,
    raises_alert,
)
from tests import test_ocpp_sessions
from tests.conftest import eventually, unique_id
from tests.test_device_model import _complete
from tests.test_ocpp_sessions import connect
from tests.test_rest_api import as_role, assert_error, charger, register

AT = "2026-12-07T10:00:00Z"
sessions = test_ocpp_sessions.sessions  # the fixture: charge point sessions without Ray


def event(variable="Temperature", component="PowerConverter", **extra) -> dict:
    return {
        "eventId": extra.pop("eventId", 1),
        "timestamp": extra.pop("timestamp", AT),
        "trigger": "Alerting",
        "actualValue": "81",
        "eventNotificationType": "CustomMonitor",
        "component": {"name": component, **extra.pop("where", {})},
        "variable": {"name": variable},
        **extra,
    }


def read(e: dict, severities: dict[int, int] | None = None) -> MonitoringEvent:
    [one] = monitoring_events([e], severities or {})
    return one


def test_which_events_raise_and_clear_alerts():
    assert raises_alert(read(event()))  # hard-wired, no severity known: a problem
    assert raises_alert(read(event(variableMonitoringId=3), {3: 5}))  # Alert
    assert not raises_alert(read(event(variableMonitoringId=3), {3: 6}))  # Warning
    assert raises_alert(read(event(variableMonitoringId=3, severity=2), {3: 9}))  # 2.1 says
    assert not raises_alert(read(event(trigger="Delta")))
    assert not raises_alert(read(event(trigger="Periodic")))
    cleared = read(event(cleared=True))
    assert clears_alert(cleared) and not raises_alert(cleared)
    # A connector's problem is its error code (as 1.6's StatusNotification), not an alert.
    problem = read(event("Problem", "Connector", where={"evse": {"id": 1, "connectorId": 1}}))
    assert not raises_alert(problem) and not clears_alert(problem)
    # One open alert per component (with its EVSE and instance) and variable.
    keys = {
        read(event()).key,
        read(event(where={"evse": {"id": 1}})).key,
        read(event(where={"instance": "rear"})).key,
    }
    assert len(keys) == 3


def test_the_monitors_a_station_accepted_are_read_from_its_answer():
    sent = [
        {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
         "type": "UpperThreshold", "value": 22000.0, "severity": 4, "transaction": True},
        {"component": {"name": "X"}, "variable": {"name": "Y"},
         "type": "Delta", "value": 1.0, "severity": 8},
    ]  # fmt: skip
    results = [  # answered in another order, the second refused
        {**{k: sent[1][k] for k in ("component", "variable", "type", "severity")},
         "status": "UnknownComponent"},
        {**{k: sent[0][k] for k in ("component", "variable", "type", "severity")},
         "status": "Accepted", "id": 12},
    ]  # fmt: skip
    [monitor] = monitors_accepted(sent, results)
    assert (monitor.id, monitor.key, monitor.value, monitor.transaction) == (
        12,
        "EVSE@1.0.Power",
        22000.0,
        True,
    )


def test_monitors_a_station_cannot_take_are_refused_before_sending():
    assert "2.1 only" in monitor_problem("TargetDelta", 5, "ocpp2.0.1")
    assert monitor_problem("TargetDelta", 5, "ocpp2.1") is None
    assert "above 0" in monitor_problem("Periodic", 0, "ocpp2.1")
    assert "not negative" in monitor_problem("Delta", -1, "ocpp2.0.1")
    assert monitor_problem("LowerThreshold", -40, "ocpp2.0.1") is None


async def _open_alerts(repos, cp_id):
    page = await alerts.list_alerts(repos, charge_point_id=cp_id, source="monitoring")
    return page.items


async def test_alerting_events_raise_refresh_and_clear_one_alert(sessions, repos, database_url):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    report = {
        "requestId": 4,
        "generatedAt": AT,
        "seqNo": 0,
        "tbc": False,
        "monitor": [
            {
                "component": {"name": "PowerConverter"},
                "variable": {"name": "Temperature"},
                "variableMonitoring": [
                    {"id": 3, "transaction": False, "value": 80, "type": "UpperThreshold",
                     "severity": 3},
                    {"id": 4, "transaction": False, "value": 70, "type": "UpperThreshold",
                     "severity": 6},
                ],
            }
        ],
    }  # fmt: skip
    assert await cp.call("NotifyMonitoringReport", report) == {}
    held = await repos.variable_monitors.of(cp.cp_id)
    assert [(m.id, m.severity, m.origin) for m in held] == [(3, 3, "report"), (4, 6, "report")]

    def notify(*events):
        return cp.call("NotifyEvent", {"generatedAt": AT, "seqNo": 0, "eventData": list(events)})

    # The Warning monitor's event is kept, not alerted; the Critical one's is.
    assert await notify(event(variableMonitoringId=4, actualValue="75")) == {}
    assert await _open_alerts(repos, cp.cp_id) == []
    await notify(event(variableMonitoringId=3, actualValue="81"))
    await notify(event(variableMonitoringId=3, actualValue="85", eventId=2))  # still alerting
    [alert] = await _open_alerts(repos, cp.cp_id)
    assert (alert.source, alert.risk, alert.event.actual_value, alert.event.severity) == (
        "monitoring",
        None,
        "85",
        3,
    )
    # The diagnosis names it, as the thing to look at.
    diagnosis = await diagnostics.diagnose_charge_point(repos, cp.cp_id)
    assert [e.actual_value for e in diagnosis.reported] == ["85"]
    assert "reports PowerConverter.Temperature at 85" in diagnosis.suggested_action
    # Listed before any predicted risk; a failure prediction still raises its own alert.
    with psycopg.connect(database_url, autocommit=True) as conn:
        model = SimpleNamespace(horizon_hours=168.0, version="t")
        score = Score(cp.cp_id, pd.Timestamp(AT), 0.9, True, [], None)
        assert record_scores(conn, [score], model) == 1
    listed = (await alerts.list_alerts(repos, charge_point_id=cp.cp_id)).items
    assert [a.source for a in listed] == ["monitoring", "failure_prediction"]

    await notify(event(variableMonitoringId=3, actualValue="79", eventId=3, cleared=True))
    assert await _open_alerts(repos, cp.cp_id) == []
    [closed] = (
        await alerts.list_alerts(repos, charge_point_id=cp.cp_id, source="monitoring", active=False)
    ).items
    assert closed.cleared_at is not None and closed.event.actual_value == "79"


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_an_operator_sets_a_monitor_and_its_alert_comes_and_goes(system, tokens, protocol):
    cp_id = unique_id("MON")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, protocol) as station:
            r = await op.post(f"/charge-points/{cp_id}/variables/report")
            request_id = r.json()["request_id"]
            await eventually(
                lambda: _complete(op, cp_id, request_id), within=20, message="no device model"
            )
            base = {"type": "UpperThreshold", "value": 11000, "severity": 4}
            monitors = f"/charge-points/{cp_id}/monitors"
            # Refused before anything is sent, each with its reason.
            for bad, why in (
                ({"component": "EVSE", "evse_id": 1, "variable": "Voltage"}, "did not report"),
                ({"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}, "cannot monitor"),
                ({"component": "EVSE", "evse_id": 1, "variable": "Power", "severity": 10},
                 "severity"),
            ):  # fmt: skip
                r = await op.post(monitors, json={**base, **bad})
                assert_error(r, 422, "invalid_input", why)
            r = await op.post(
                monitors,
                json={**base, "component": "EVSE", "evse_id": 1, "variable": "Power",
                      "type": "TargetDelta"},
            )  # fmt: skip
            if protocol == "ocpp2.0.1":
                assert_error(r, 422, "invalid_input", "2.1 only")
            else:  # the station's own answer: it has no such monitors
                assert r.json()["result"]["status"] == "UnsupportedMonitorType", r.text
            assert station.monitors == {}

            power = {**base, "component": "EVSE", "evse_id": 1, "variable": "Power"}
            r = await op.post(monitors, json=power)
            assert r.status_code == 200 and r.json()["result"]["status"] == "Accepted", r.text
            monitor_id = r.json()["monitor"]["id"]
            assert station.monitors[monitor_id].value == 11000
            r = await op.post(monitors, json=power)  # the same again: the station says so
            assert r.json()["result"]["status"] == "Duplicate" and r.json()["monitor"] is None
            held = (await op.get(monitors)).json()["items"]
            assert [(m["id"], m["variable"], m["evse_id"]) for m in held] == [
                (monitor_id, "Power", 1)
            ]

            async def alert(active: bool):
                page = (
                    await op.get(
                        "/alerts",
                        params={"charge_point_id": cp_id, "source": "monitoring",
                                "active": str(active).lower()},
                    )
                ).json()  # fmt: skip
                return page["items"] or None

            await station.observe("EVSE", "Power", 1, 12500)
            [raised] = await eventually(lambda: alert(True), within=10, message="no alert")
            assert raised["event"]["actual_value"] == "12500"
            assert raised["event"]["monitor_id"] == monitor_id
            assert raised["event"]["severity"] == 4
            await station.observe("EVSE", "Power", 1, 7000)
            [cleared] = await eventually(lambda: alert(False), within=10, message="not cleared")
            assert cleared["id"] == raised["id"] and cleared["cleared_at"]

            # The station's own list, then the monitor cleared.
            station.monitors[monitor_id].severity = 2  # changed on the station itself
            r = await op.post(f"{monitors}/report")
            assert r.status_code == 200 and r.json()["result"]["status"] == "Accepted", r.text

            async def reported():
                items = (await op.get(monitors)).json()["items"]
                return items if items and items[0]["origin"] == "report" else None

            [again] = await eventually(reported, within=10, message="not reported")
            assert again["severity"] == 2
            r = await op.delete(f"{monitors}/{monitor_id}")
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            assert (await op.get(monitors)).json()["items"] == [] and station.monitors == {}
            r = await op.delete(f"{monitors}/{monitor_id}")
            assert r.json()["status"] == "NotFound"


async def test_a_16_charger_has_no_variable_monitoring(system, tokens):
    cp_id = unique_id("MON16")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, "ocpp1.6"):
            r = await op.post(
                f"/charge-points/{cp_id}/monitors",
                json={"component": "EVSE", "variable": "Power", "type": "Delta", "value": 1,
                      "severity": 4},
            )  # fmt: skip
            assert_error(r, 409, "conflict", "1.6 has no variable monitoring")
        r = await op.get("/charge-points/NO-SUCH-CP/monitors")
        assert r.status_code == 404
