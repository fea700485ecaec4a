"""Every OCPP 1.6J, 2.0.1 and 2.1 message, in both directions, through the real Serve ingress.

Charger-initiated: a raw OCPP-J client sends each message with a schema-generated payload and
checks the reply is a CALLRESULT valid against the response schema, and that what the message
reports is persisted. CSMS-initiated: each command goes through `POST .../commands` and the
client answers it with a schema-valid reply, which must come back to the REST caller.
Malformed frames get the spec's CALLERROR over the wire and the connection stays up; 2.1's
SEND and CALLRESULTERROR are taken and never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json

import psycopg
import pytest
import websockets
from ocpp.messages import CallResult, validate_payload

from sigecve.ocpp import v16, v21, v201
from sigecve.simulator.charge_point import basic_auth_header
from tests.conftest import RunningSystem, eventually, unique_id
from tests.ocpp_samples import sample

VERSIONS = {"1.6": ("ocpp1.6", v16), "2.0.1": ("ocpp2.0.1", v201), "2.1": ("ocpp2.1", v21)}
PASSWORD = "conformance-pass"
# Handled by a specific path rather than stored as a notification.
CORE = {"Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction",
        "StatusNotification", "StopTransaction", "TransactionEvent"}  # fmt: skip


class RawCharger:
    """An OCPP-J client on a real WebSocket that answers CSMS calls with schema samples."""

    def __init__(self, ws, version: str) -> None:
        self.ws, self.version = ws, version
        self.replies: asyncio.Queue[list] = asyncio.Queue()
        self.commands_seen: list[tuple[str, dict]] = []
        self._ids = itertools.count(1)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            message = json.loads(frame)
            if message[0] == 2:  # a command from the CSMS
                _, uid, action, payload = message
                self.commands_seen.append((action, payload))
                await self.ws.send(json.dumps([3, uid, sample(self.version, action, "response")]))
            else:
                self.replies.put_nowait(message)

    async def send_frame(self, frame: str | bytes) -> list:
        await self.ws.send(frame)
        return await asyncio.wait_for(self.replies.get(), 15)

    async def call(self, action: str, payload: dict) -> list:
        uid = f"c{next(self._ids)}"
        reply = await self.send_frame(json.dumps([2, uid, action, payload]))
        assert reply[1] == uid, reply
        return reply


@contextlib.asynccontextmanager
async def raw_charger(system: RunningSystem, version: str):
    protocol, _ = VERSIONS[version]
    cp_id = unique_id(f"CONF{version.replace('.', '')}")
    async with system.api() as api:
        r = await api.post("/charge-points", json={"id": cp_id, "password": PASSWORD})
        assert r.status_code == 201, r.text
    async with websockets.connect(
        f"{system.ocpp_url}/{cp_id}",
        subprotocols=[protocol],
        additional_headers=basic_auth_header(cp_id, PASSWORD),
        max_size=None,
    ) as ws:
        assert ws.subprotocol == protocol
        charger = RawCharger(ws, version)
        charger.cp_id = cp_id
        yield charger


def _messages(direction: str) -> list[tuple[str, str]]:
    return [
        (version, action)
        for version, (_, module) in VERSIONS.items()
        for action in sorted(getattr(module, direction))
    ]


@pytest.mark.parametrize(("version", "action"), _messages("CHARGER_INITIATED_ACTIONS"))
async def test_charger_initiated_message(system, database_url, version, action):
    async with raw_charger(system, version) as charger:
        payload = sample(version, action, "request")
        reply = await charger.call(action, payload)
        assert reply[0] == 3, reply
        await validate_payload(CallResult(reply[1], reply[2], action=action), version)
        with psycopg.connect(database_url) as conn:
            if action in CORE:
                logged = await eventually(
                    lambda: _logged(conn, charger.cp_id, action),
                    within=10,
                    message=f"{action} not in the message log",
                )
                assert logged
            else:
                (stored,) = conn.execute(
                    "SELECT payload FROM charge_point_events WHERE charge_point_id = %s "
                    "AND action = %s",
                    (charger.cp_id, action),
                ).fetchone()
                assert stored == payload


async def _logged(conn, cp_id: str, action: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM ocpp_messages WHERE charge_point_id = %s AND action = %s "
            "AND direction = 'in'",
            (cp_id, action),
        ).fetchone()
        is not None
    )


@pytest.mark.parametrize(("version", "action"), _messages("CSMS_INITIATED_ACTIONS"))
async def test_csms_initiated_command(system, version, action):
    async with raw_charger(system, version) as charger, system.api() as api:
        payload = sample(version, action, "request")
        r = await api.post(
            f"/charge-points/{charger.cp_id}/commands", json={"action": action, "payload": payload}
        )
        assert r.status_code == 200, r.text
        expected = sample(version, action, "response")
        assert r.json()["response"] == expected
        assert r.json()["action"] == action
        assert r.json()["status"] == expected.get("status", "Replied")
        assert charger.commands_seen == [(action, payload)]


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize(
    ("frame", "code_16", "code_201"),
    [
        ("this is not json", "FormationViolation", "RpcFrameworkError"),
        ('[7, "m1", "Heartbeat", {}]', "ProtocolError", "MessageTypeNotSupported"),
        ('[2, "m3", "NoSuchAction", {}]', "NotImplemented", "NotImplemented"),
        ('[2, "m4", "Heartbeat", {"unexpected": 1}]', "FormationViolation", "FormatViolation"),
        (b"\x00binary", "ProtocolError", "RpcFrameworkError"),
        (
            '[2, "big", "DataTransfer", {"vendorId": "x", "data": "' + "x" * 300_000 + '"}]',
            "FormationViolation",
            "FormatViolation",
        ),
    ],
    ids=["not-json", "wrong-type", "unknown-action", "schema", "binary", "oversize"],
)
async def test_malformed_frames_over_the_wire(system, version, frame, code_16, code_201):
    async with raw_charger(system, version) as charger:
        error = await charger.send_frame(frame)
        assert error[0] == 4, error
        assert error[2] == (code_16 if version == "1.6" else code_201), error
        reply = await charger.call("Heartbeat", {})  # the connection is still up
        assert reply[0] == 3 and "currentTime" in reply[2]


async def test_send_message_is_stored_and_never_answered(system, database_url):
    """2.1's SEND (message type 6): a valid NotifyPeriodicEventStream is stored, an invalid
    one dropped, and neither answered, not even with an error. The Heartbeat after them is
    the proof: its reply is the next frame to come."""
    async with raw_charger(system, "2.1") as charger:
        stream = {**sample("2.1", "OpenPeriodicEventStream", "request")}
        opened = await charger.call("OpenPeriodicEventStream", stream)
        assert opened[0] == 3 and opened[2]["status"] == "Accepted", opened
        data = {
            "id": stream["constantStreamData"]["id"],
            "pending": 0,
            "basetime": "2026-12-07T10:00:00Z",
            "data": [{"t": 0.0, "v": "7400"}, {"t": 1.5, "v": "7350"}],
        }
        await charger.ws.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", data]))
        await charger.ws.send(json.dumps([6, "s2", "NotifyPeriodicEventStream", {"id": 1}]))
        await charger.ws.send(json.dumps([6, "s3", "Heartbeat", {}]))  # not a SEND action
        await charger.ws.send(json.dumps([6, "s4"]))  # not even a SEND
        # A CALLRESULTERROR: the charger could not take a reply of ours. Logged, not answered.
        await charger.ws.send(json.dumps([5, "r1", "FormatViolation", "bad reply", {}]))
        reply = await charger.call("Heartbeat", {})
        assert reply[0] == 3 and "currentTime" in reply[2], reply
        assert charger.replies.empty()
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT payload FROM charge_point_events WHERE charge_point_id = %s "
                "AND action = 'NotifyPeriodicEventStream'",
                (charger.cp_id,),
            ).fetchall()
            assert [r[0] for r in rows] == [data]
            logged = await eventually(
                lambda: _logged(conn, charger.cp_id, "NotifyPeriodicEventStream"),
                within=10,
                message="the SEND is not in the message log",
            )
            assert logged


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_send_and_callresulterror_are_not_message_types_before_21(system, version):
    code = "ProtocolError" if version == "1.6" else "MessageTypeNotSupported"
    async with raw_charger(system, version) as charger:
        data = sample("2.1", "NotifyPeriodicEventStream", "send")
        error = await charger.send_frame(json.dumps([6, "s1", "NotifyPeriodicEventStream", data]))
        assert error[:3] == [4, "s1", code], error
        error = await charger.send_frame(json.dumps([5, "r1", "FormatViolation", "x", {}]))
        assert error[:3] == [4, "r1", code], error
