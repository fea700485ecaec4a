"""The running system end to end: real OCPP clients over real WebSockets through the Serve
ingress, the REST API over HTTP, PostgreSQL underneath."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest
import websockets
from ocpp.v16 import call

from sigecve.ocpp.timestamps import now_timestamp
from sigecve.simulator.charge_point import (
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
    connect,
)
from tests.conftest import RunningSystem, eventually, unique_id

PASSWORD = "charger-password-1"


async def register(system: RunningSystem, cp_id: str, password: str | None = PASSWORD) -> None:
    body = {"id": cp_id}
    if password:
        body["password"] = password
    async with system.api() as api:
        r = await api.post("/charge-points", json=body)
    assert r.status_code == 201, r.text


async def add_tag(system: RunningSystem, tag: str, status: str = "Accepted") -> None:
    async with system.api() as api:
        r = await api.post("/id-tags", json={"id_tag": tag, "status": status})
    assert r.status_code == 201, r.text


@contextlib.asynccontextmanager
async def charger(system: RunningSystem, cp_id: str, password: str | None = PASSWORD):
    """A real OCPP 1.6 client (the `ocpp` package) connected through the ingress."""
    ws = await connect(system.ocpp_url, cp_id, password)
    cp = SimulatedChargePoint16(
        cp_id, ws, SimulationProfile(), SimulationCounters(), __import__("random").Random(1)
    )
    router = asyncio.create_task(cp.start())
    try:
        yield cp
    finally:
        router.cancel()
        await ws.close()


async def test_health_checks_every_component(system):
    async with system.api(token="") as api:
        r = await api.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "components": {
            "database": "ok",
            "ray": "ok",
            "deployments": "ok",
            "charge_point_hosts": "ok",
        },
    }


async def test_a_charger_boots_authorizes_charges_and_stops(system, database_url):
    cp_id, tag = unique_id("CP"), unique_id("TAG")[:20]
    await register(system, cp_id)
    await add_tag(system, tag)
    async with charger(system, cp_id) as cp:
        assert cp.id == cp_id
        await cp.boot()
        auth = await cp.send(call.Authorize(id_tag=tag))
        assert auth.id_tag_info["status"] == "Accepted"
        started = await cp.send(
            call.StartTransaction(
                connector_id=1, id_tag=tag, meter_start=10_000, timestamp=now_timestamp()
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        tx = started.transaction_id
        for register_wh in (11_000, 12_500):
            cp.energy_wh[1] = register_wh
            await cp.meter_values(1, tx, 7400)
        async with system.api() as api:
            live = (await api.get(f"/charge-points/{cp_id}")).json()
        assert live["connected"] and live["ocpp_protocol"] == "ocpp1.6"
        assert live["vendor"] == "SIGEC-VE"
        assert {c["connector_id"]: c["status"] for c in live["connectors"]} == {
            0: "Available",
            1: "Available",
            2: "Available",
        }
        assert [t["transaction_id"] for t in live["active_transactions"]] == [tx]
        assert live["active_transactions"][0]["energy_wh"] == 2_500
        cp.energy_wh[1] = 14_000
        await cp.stop(1, tx, "EVDisconnected", tag)

    async with system.api() as api:
        r = await api.get("/transactions", params={"charge_point_id": cp_id})
    assert r.status_code == 200
    (t,) = r.json()["items"]
    assert t["transaction_id"] == tx and t["charge_point_id"] == cp_id
    assert (t["connector_id"], t["id_tag"]) == (1, tag)
    assert (t["meter_start_wh"], t["meter_stop_wh"], t["energy_wh"]) == (10_000, 14_000, 4_000)
    assert t["started_at"] and t["stopped_at"]

    with psycopg.connect(database_url) as conn:
        values = conn.execute(
            """SELECT value FROM meter_values WHERE transaction_id = %s
               AND measurand = 'Energy.Active.Import.Register' ORDER BY timestamp""",
            (tx,),
        ).fetchall()
    assert [v[0] for v in values] == [11_000, 12_500]

    async def stop_is_logged() -> bool:
        # The message log is written in batches, off the acknowledgement path.
        with psycopg.connect(database_url) as conn:
            logged = conn.execute(
                "SELECT direction, action FROM ocpp_messages WHERE charge_point_id = %s", (cp_id,)
            ).fetchall()
        return ("in", "StartTransaction") in logged and ("in", "StopTransaction") in logged

    await eventually(stop_is_logged, within=10, message="frames missing from the message log")


async def test_unknown_and_blocked_id_tags_are_refused(system):
    cp_id, blocked = unique_id("CP"), unique_id("BLK")[:20]
    await register(system, cp_id)
    await add_tag(system, blocked, "Blocked")
    async with charger(system, cp_id) as cp:
        unknown = await cp.send(call.Authorize(id_tag="NEVER-ISSUED"))
        assert unknown.id_tag_info["status"] == "Invalid"
        refused = await cp.send(call.Authorize(id_tag=blocked))
        assert refused.id_tag_info["status"] == "Blocked"


async def test_unregistered_charge_points_and_wrong_passwords_are_refused(system):
    """401 with a Basic challenge, as OCPP's security profiles ask of a CSMS refusing the
    credentials a charger presents."""
    cp_id = unique_id("CP")
    await register(system, cp_id)
    for refused_id, password in (
        (unique_id("STRANGER"), "some-password"),
        (cp_id, "not-the-password"),
        (cp_id, None),
    ):
        try:
            admitted = await connect(system.ocpp_url, refused_id, password)
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code == 401
            assert refused.response.headers["WWW-Authenticate"].startswith("Basic ")
        else:
            async with system.api() as api:
                policy = (await api.get("/onboarding/policy")).json()
                row = (await api.get(f"/charge-points/{refused_id}")).json()
            await admitted.close()
            raise AssertionError(f"{refused_id} admitted with {password!r}: {policy} {row}")


async def test_only_ocpp_subprotocols_we_speak_are_accepted(system):
    cp_id = unique_id("CP")
    await register(system, cp_id)
    with pytest.raises(websockets.InvalidStatus):
        await connect(system.ocpp_url, cp_id, PASSWORD, protocol="ocpp1.2")


async def test_commands_reach_the_charger_and_its_reply_comes_back(system):
    cp_id = unique_id("CP")
    await register(system, cp_id)
    async with charger(system, cp_id) as cp, system.api() as api:
        await cp.boot()
        r = await api.post(
            f"/charge-points/{cp_id}/commands",
            json={"action": "ChangeConfiguration", "payload": {"key": "X", "value": "42"}},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "action": "ChangeConfiguration",
            "status": "Accepted",
            "response": {"status": "Accepted"},
        }
        assert cp.configuration["X"] == "42"
        r = await api.post(
            f"/charge-points/{cp_id}/commands",
            json={"action": "GetConfiguration", "payload": {"key": ["X"]}},
        )
        assert r.json()["response"]["configurationKey"] == [
            {"key": "X", "readonly": False, "value": "42"}
        ]
        r = await api.post(
            f"/charge-points/{cp_id}/commands",
            json={"action": "Reset", "payload": {"type": "Sideways"}},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
        assert "Sideways" in r.json()["error"]["message"]


async def test_command_errors_follow_the_contract(system):
    cp_id = unique_id("CP")
    await register(system, cp_id)
    async with system.api() as api:
        r = await api.post(
            "/charge-points/NO-SUCH-CP/commands", json={"action": "Reset", "payload": {}}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await api.post(
            f"/charge-points/{cp_id}/commands",
            json={"action": "Reset", "payload": {"type": "Soft"}},
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_connected"

        # A charger that never answers: the caller gets a 504, not silence.
        ws = await connect(system.ocpp_url, cp_id, PASSWORD)
        try:
            r = await api.post(
                f"/charge-points/{cp_id}/commands",
                params={"timeout_s": 1},
                json={"action": "ClearCache", "payload": {}},
            )
            assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        finally:
            await ws.close()


async def test_rest_auth_and_input_errors(system):
    async with system.api(token="") as anonymous:
        r = await anonymous.get("/charge-points")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    async with system.api(token="sgv_wrong") as wrong:
        assert (await wrong.get("/transactions")).status_code == 401
    async with system.api() as api:
        r = await api.post("/charge-points", json={"id": "has spaces/and slashes"})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_input" and "id" in r.json()["error"]["message"]
        r = await api.post("/id-tags", json={"id_tag": "X" * 37})
        assert r.status_code == 422
        r = await api.get("/transactions", params={"cursor": "drop table"})
        assert r.status_code == 422
        r = await api.get("/charge-points/NOBODY-HERE")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await api.get("/no-such-endpoint")
        assert r.status_code == 404 and "error" in r.json()


async def test_registration_conflicts_and_pagination(system):
    prefix = unique_id("PAGE")
    ids = [f"{prefix}-{i}" for i in range(5)]
    for cp_id in ids:
        await register(system, cp_id, password=None)
    async with system.api() as api:
        r = await api.post("/charge-points", json={"id": ids[0]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
        tag = unique_id("DUP")[:20]
        assert (await api.post("/id-tags", json={"id_tag": tag})).status_code == 201
        assert (await api.post("/id-tags", json={"id_tag": tag})).status_code == 409

        seen, cursor = [], None
        while True:
            params = {"limit": 2, "q": prefix, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/charge-points", params=params)).json()
            assert len(page["items"]) <= 2
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids


async def test_openapi_and_docs_are_served(system):
    async with system.api(token="") as api:
        spec = (await api.get("/openapi.json")).json()
        assert "/charge-points/{charge_point_id}/commands" in spec["paths"]
        assert (await api.get("/docs")).status_code == 200


async def test_connection_state_follows_the_websocket(system):
    cp_id = unique_id("CP")
    await register(system, cp_id)

    async def connected() -> bool:
        async with system.api() as api:
            return (await api.get(f"/charge-points/{cp_id}")).json()["connected"]

    async with charger(system, cp_id) as cp:
        await cp.boot()
        assert await connected()
    await eventually(lambda: _not(connected), message="charge point still shown connected")


async def _not(check) -> bool:
    return not await check()
