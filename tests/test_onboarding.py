"""Zero-touch onboarding: a station nobody registered boots Pending (or Rejected) by policy
and waits in the approval queue; approved, its device model is read, its configuration
templates applied (each value checked against that model, each answer recorded) and it is
accepted on its next boot. Against the simulated stations, both OCPP generations."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from sigecve.onboarding import (
    ConfigurationTemplate,
    NewConfigurationTemplate,
    boot_answer,
    configuration_for,
)
from sigecve.simulator.charge_point import SimulationCounters, SimulationProfile, connect
from sigecve.simulator.fleet import SIMULATED_CLASSES
from tests.conftest import RunningSystem, eventually, unique_id
from tests.test_rest_api import as_role, assert_error, charger, register

PASSWORD = "a-stranger-password"


def template(id_: int, name: str, vendor=None, model=None, site_id=None, **values):
    return ConfigurationTemplate(
        id=id_,
        name=name,
        vendor=vendor,
        model=model,
        site_id=site_id,
        variables=[{"key": k.replace("__", "."), "value": v} for k, v in values.items()],
        created_at="2026-12-07T00:00:00Z",
        updated_at="2026-12-07T00:00:00Z",
    )


def test_the_most_specific_template_wins_each_value():
    templates = [
        template(1, "everyone", A__B="1", A__C="1"),
        template(2, "acme", vendor="ACME", A__B="2"),
        template(3, "acme-dc", vendor="ACME", model="DC", A__C="3"),
        template(4, "porto", site_id="porto", A__B="4"),
        template(5, "other", vendor="Other", A__D="5"),
    ]
    assert configuration_for(templates, "ACME", "DC", None) == {
        "A.B": ("2", "acme"),
        "A.C": ("3", "acme-dc"),
    }
    # A site's template is the most specific of all.
    assert configuration_for(templates, "ACME", "DC", "porto")["A.B"] == ("4", "porto")
    assert configuration_for(templates, None, None, None) == {
        "A.B": ("1", "everyone"),
        "A.C": ("1", "everyone"),
    }


def test_boot_answers_follow_the_registration():
    assert boot_answer("Accepted", False) == ("Accepted", False)
    assert boot_answer("Pending", False) == ("Pending", False)
    assert boot_answer("Rejected", False) == ("Rejected", False)
    assert boot_answer("Pending", True) == ("Pending", True)  # approved: configure it now


def test_a_template_says_clearly_what_is_wrong_with_it():
    with pytest.raises(ValueError, match=r"each key once \(A\.B repeated\)"):
        NewConfigurationTemplate(
            name="t", variables=[{"key": "A.B", "value": "1"}, {"key": "A.B", "value": "2"}]
        )
    with pytest.raises(ValueError, match=r"Component\.Variable, both parts"):
        NewConfigurationTemplate(name="t", variables=[{"key": "A.", "value": "1"}])
    with pytest.raises(ValueError, match="at least 1"):
        NewConfigurationTemplate(name="t", variables=[])


@contextlib.asynccontextmanager
async def stranger(system: RunningSystem, cp_id: str, protocol: str):
    """A simulated station nobody registered: connected, its boot loop running (it waits
    while the CSMS answers Pending or Rejected)."""
    ws = await connect(system.ocpp_url, cp_id, PASSWORD, protocol=protocol)
    cls = SIMULATED_CLASSES[protocol]
    cp = cls(cp_id, ws, SimulationProfile(), SimulationCounters(), random.Random(3))
    router = asyncio.create_task(cp.start())
    cp.booting = asyncio.create_task(cp.boot())
    try:
        yield cp
    finally:
        cp.booting.cancel()
        router.cancel()
        await ws.close()


@contextlib.asynccontextmanager
async def policy(system: RunningSystem, unknown_stations: str):
    async with system.api() as admin:
        r = await admin.put("/onboarding/policy", json={"unknown_stations": unknown_stations})
        assert r.status_code == 200, r.text
        try:
            yield
        finally:
            r = await admin.put("/onboarding/policy", json={"unknown_stations": "refuse"})
            assert r.json() == {"unknown_stations": "refuse"}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_an_unknown_station_waits_pending_and_is_configured_when_approved(
    system, tokens, protocol
):
    cp_id, site_id = unique_id("NEW"), unique_id("ONB")
    v16 = protocol == "ocpp1.6"
    model = "Simulator-1.6" if v16 else SIMULATED_CLASSES[protocol].model
    beat = "HeartbeatInterval" if v16 else "OCPPCommCtrlr.HeartbeatInterval"
    read_only = "NumberOfConnectors" if v16 else "ChargingStation.Model"
    lacking = "NoSuchKey" if v16 else "AcmeCtrlr.Fan"
    async with as_role(system, tokens, "operator") as op, policy(system, "pending"):
        r = await op.post("/sites", json={"id": site_id, "max_power_kw": 50})
        assert r.status_code == 201, r.text
        values = {beat: "120", read_only: "9", lacking: "1"}
        if not v16:
            values["TxCtrlr.TxStartPoint"] = "Authorized"
        body = {
            "name": unique_id("tpl"),
            "vendor": "SIGEC-VE",
            "model": model,
            "variables": [{"key": k, "value": v} for k, v in values.items()],
        }
        async with stranger(system, cp_id, protocol) as station:
            # Pending: in the queue with what it booted with, nothing else asked of it.
            async def queued():
                items = (await op.get("/onboarding/queue")).json()["items"]
                mine = [i for i in items if i["id"] == cp_id]
                return mine[0] if mine and mine[0]["booted_at"] else None

            waiting = await eventually(queued, within=20, message="not in the approval queue")
            assert waiting["registration_status"] == "Pending" and waiting["approved_at"] is None
            assert (waiting["vendor"], waiting["model"]) == ("SIGEC-VE", model)
            assert not station.booted and station.counters.boots == 0

            # A template naming what this model's stations reported not having: refused,
            # once one of them has a complete report (read it now, while it is Pending).
            r = await op.post(f"/charge-points/{cp_id}/variables/report")
            assert r.status_code == 200, r.text
            report = r.json()["request_id"]

            async def reported():
                model_now = (await op.get(f"/charge-points/{cp_id}/variables")).json()
                return any(
                    x["request_id"] == report and x["state"] == "complete"
                    for x in model_now["reports"]
                )

            await eventually(reported, within=20, message="no report while Pending")
            r = await op.post("/configuration-templates", json=body)
            assert_error(r, 422, "invalid_input", lacking)
            del values[lacking]
            body["variables"] = [{"key": k, "value": v} for k, v in values.items()]
            r = await op.post("/configuration-templates", json=body)
            assert r.status_code == 201, r.text
            template_id = r.json()["id"]
            r = await op.post("/configuration-templates", json=body)
            assert_error(r, 409, "conflict", body["name"])

            r = await op.post(f"/charge-points/{cp_id}/approve", json={"site_id": site_id})
            assert r.status_code == 200, r.text
            assert r.json()["approved_at"] is not None
            await asyncio.wait_for(station.booting, 40)  # accepted at last
            state = (await op.get(f"/charge-points/{cp_id}/onboarding")).json()
            assert state["registration_status"] == "Accepted"
            results = {x["key"]: x for x in state["results"]}
            assert results[beat]["status"] == "Accepted"
            # Read-only on this model: refused before anything was sent, with the reason.
            assert results[read_only]["status"] == "Refused"
            assert "read-only" in results[read_only]["reason"]
            if v16:
                assert station.configuration["HeartbeatInterval"] == "120"
                assert station.configuration["NumberOfConnectors"] == "2"
            else:
                assert (
                    station.device_model.find("OCPPCommCtrlr", "HeartbeatInterval").value == "120"
                )
                assert station.device_model.find("TxCtrlr", "TxStartPoint").value == "Authorized"
                assert results["TxCtrlr.TxStartPoint"]["template"] == body["name"]
            cp = (await op.get(f"/charge-points/{cp_id}")).json()
            assert cp["site_id"] == site_id
            queue = (await op.get("/onboarding/queue")).json()["items"]
            assert cp_id not in {i["id"] for i in queue}
            r = await op.post(f"/charge-points/{cp_id}/approve", json={})
            assert_error(r, 409, "conflict", "already accepted")
        r = await op.delete(f"/configuration-templates/{template_id}")
        assert r.status_code == 204
        assert (await op.get(f"/configuration-templates/{template_id}")).status_code == 404


async def test_a_station_rejected_by_policy_is_accepted_after_approval(system, tokens):
    cp_id = unique_id("REJ")
    async with as_role(system, tokens, "operator") as op, policy(system, "rejected"):
        async with stranger(system, cp_id, "ocpp2.0.1") as station:

            async def rejected():
                items = (await op.get("/onboarding/queue")).json()["items"]
                return any(i["id"] == cp_id and i["booted_at"] for i in items)

            await eventually(rejected, within=20, message="not queued as Rejected")
            state = (await op.get(f"/charge-points/{cp_id}/onboarding")).json()
            assert state["registration_status"] == "Rejected"
            # Rejected: nothing may be sent to it until it boots again.
            r = await op.post(f"/charge-points/{cp_id}/approve", json={})
            assert r.status_code == 200 and r.json()["registration_status"] == "Pending"
            await asyncio.wait_for(station.booting, 40)  # its own retry, then configured
            state = (await op.get(f"/charge-points/{cp_id}/onboarding")).json()
            assert state["registration_status"] == "Accepted"


async def test_the_policy_and_templates_refuse_bad_input(system, tokens):
    async with as_role(system, tokens, "operator") as op, system.api() as admin:
        r = await op.put("/onboarding/policy", json={"unknown_stations": "pending"})
        assert r.status_code == 403
        r = await admin.put("/onboarding/policy", json={"unknown_stations": "maybe"})
        assert r.status_code == 422
        assert (await op.get("/onboarding/policy")).json() == {"unknown_stations": "refuse"}
        for bad, why in (
            ({"name": "t", "variables": []}, "at least 1"),
            ({"name": "t", "variables": [{"key": "A.", "value": "1"}]}, "both parts"),
            ({"name": "bad/name", "variables": [{"key": "A.B", "value": "1"}]}, "name"),
        ):
            r = await op.post("/configuration-templates", json=bad)
            assert_error(r, 422, "invalid_input", why)
        r = await op.post(
            "/configuration-templates",
            json={
                "name": unique_id("t"),
                "site_id": "NO-SITE",
                "variables": [{"key": "K", "value": "1"}],
            },
        )
        assert_error(r, 404, "not_found", "NO-SITE")
        r = await op.post(f"/charge-points/{unique_id('NOPE')}/approve", json={})
        assert r.status_code == 404
        # A registered, accepted charger is not waiting for anything.
        cp_id = unique_id("OK")
        await register(op, cp_id)
        async with charger(system, cp_id, "ocpp2.0.1"):
            r = await op.post(f"/charge-points/{cp_id}/approve", json={})
            assert_error(r, 409, "conflict", "already accepted")
            r = await op.post(f"/charge-points/{cp_id}/reject")
            assert_error(r, 409, "conflict", "already accepted")
