"""OCPP 1.6, 2.0.1 and 2.1 handling in the charge-point sessions, on the real database, without Ray.

Frames go in the way a gateway delivers them and replies come out of the gateway's poll, so
these tests see exactly what a charger would, minus the network.
"""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from ocpp.routing import create_route_map

from sigecve.db.repositories import ChargePointArrival, Repositories, TransactionFilter
from sigecve.domain import IdTag, IdTagStatus
from sigecve.ocpp import v16, v201
from sigecve.ocpp.sessions import ChargePointSessions, ConnectRequest, ConnectResult
from sigecve.ocpp.timestamps import parse_timestamp
from sigecve.security import hash_password
from sigecve.services.errors import CommandTimeout, InvalidInput, NotConnected
from sigecve.services.transactions import list_transactions
from tests.conftest import eventually, unique_id

GATEWAY = "gateway-test"


class Charger:
    """Speaks raw OCPP-J frames to a ChargePointSessions as one connected charge point."""

    def __init__(self, sessions: ChargePointSessions, cp_id: str, connection_id: str) -> None:
        self.sessions, self.cp_id, self.connection_id = sessions, cp_id, connection_id
        self._n = 0

    async def call(self, action: str, payload: dict) -> dict:
        self._n += 1
        uid = f"{self.connection_id}-{self._n}"
        self.sessions.deliver(
            [(self.connection_id, self.cp_id, json.dumps([2, uid, action, payload]))]
        )
        reply = await self.next_frame()
        assert reply[1] == uid, reply
        assert reply[0] == 3, reply
        return reply[2]

    async def next_frame(self) -> list:
        items = await self.sessions.poll(GATEWAY, 10)
        assert len(items) == 1, items
        connection_id, frame = items[0]
        assert connection_id == self.connection_id
        return json.loads(frame)


@pytest.fixture
async def sessions(repos: Repositories):
    s = ChargePointSessions(
        repos, auto_register=False, heartbeat_interval_s=300, command_timeout_s=5
    )
    s.start()
    yield s
    await s.close()


async def connect_one(
    sessions: ChargePointSessions,
    cp_id: str,
    password: str | None,
    connection_id: str,
    protocol: str = "ocpp1.6",
) -> ConnectResult:
    [result] = await sessions.connect(
        GATEWAY, [ConnectRequest(cp_id, password, protocol, connection_id)]
    )
    return result


async def connect(sessions, repos, cp_id=None, password="a-good-password", protocol="ocpp1.6"):
    cp_id = cp_id or unique_id("CP")
    await repos.charge_points.insert(cp_id, hash_password(password), "site-1")
    result = await connect_one(sessions, cp_id, password, f"conn-{cp_id}", protocol)
    assert result.accepted, result
    return Charger(sessions, cp_id, f"conn-{cp_id}")


BOOT = {"chargePointVendor": "ACME", "chargePointModel": "Wallbox-22", "firmwareVersion": "2.1"}


async def transactions_of(repos: Repositories, cp_id: str):
    page = await list_transactions(repos, filters=TransactionFilter(charge_point_id=cp_id))
    return page.items


async def test_boot_heartbeat_and_status_are_answered_and_persisted(sessions, repos):
    cp = await connect(sessions, repos)
    reply = await cp.call("BootNotification", BOOT)
    assert reply["status"] == "Accepted" and reply["interval"] == 300 and reply["currentTime"]
    booted = (await repos.charge_points.get(cp.cp_id)).last_seen_at
    beat = parse_timestamp((await cp.call("Heartbeat", {}))["currentTime"])
    # Answered at once, written in the next batch: the time seen and an event for the models.
    await sessions.heartbeats.flush()
    assert (await repos.charge_points.get(cp.cp_id)).last_seen_at == beat > booted
    async with repos.pool.connection() as conn:
        events = await conn.execute(
            "SELECT event, at FROM connectivity_events WHERE charge_point_id = %s ORDER BY id",
            (cp.cp_id,),
        )
        rows = [(e["event"], e["at"]) for e in await events.fetchall()]
    assert [event for event, _ in rows] == ["connect", "boot", "heartbeat"]
    assert rows[-1][1] == beat


async def test_an_older_status_does_not_overwrite_a_newer_one(sessions, repos):
    cp = await connect(sessions, repos)
    for status, at in (("Charging", "2026-11-25T10:05:00Z"), ("Available", "2026-11-25T10:00:00Z")):
        await cp.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": at},
        )
    stored = await repos.charge_points.get(cp.cp_id)
    assert stored.connectors[0].status == "Charging"
    # Every status is kept as an event, the older one too, in the order they came.
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, timestamp FROM status_events WHERE charge_point_id = %s ORDER BY id",
            (cp.cp_id,),
        )
        events = [(r["status"], r["timestamp"].isoformat()) for r in await cur.fetchall()]
    assert events == [
        ("Charging", "2026-11-25T10:05:00+00:00"),
        ("Available", "2026-11-25T10:00:00+00:00"),
    ]


async def test_authorize_answers_accepted_invalid_and_blocked(sessions, repos):
    good, blocked = unique_id("T")[:20], unique_id("B")[:20]
    await repos.id_tags.insert(IdTag(id_tag=good))
    await repos.id_tags.insert(IdTag(id_tag=blocked, status=IdTagStatus.blocked))
    cp = await connect(sessions, repos)
    assert (await cp.call("Authorize", {"idTag": good}))["idTagInfo"]["status"] == "Accepted"
    assert (await cp.call("Authorize", {"idTag": "NOBODY"}))["idTagInfo"]["status"] == "Invalid"
    assert (await cp.call("Authorize", {"idTag": blocked}))["idTagInfo"]["status"] == "Blocked"


async def test_a_session_is_recorded_with_its_energy_and_a_retried_start_is_idempotent(
    sessions, repos
):
    tag = unique_id("T")[:20]
    await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos)
    start = {
        "connectorId": 1,
        "idTag": tag,
        "meterStart": 1000,
        "timestamp": "2026-11-25T10:00:00Z",
    }
    first = await cp.call("StartTransaction", start)
    retried = await cp.call("StartTransaction", start)
    assert first["idTagInfo"]["status"] == "Accepted"
    assert first["transactionId"] == retried["transactionId"]
    tx = first["transactionId"]
    await cp.call(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {
                    "timestamp": "2026-11-25T10:10:00Z",
                    "sampledValue": [
                        {"value": "2.5", "unit": "kWh"},
                        {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        },
    )
    stop = {
        "meterStop": 4200,
        "timestamp": "2026-11-25T10:30:00Z",
        "transactionId": tx,
        "reason": "EVDisconnected",
        "idTag": tag,
    }
    assert (await cp.call("StopTransaction", stop))["idTagInfo"]["status"] == "Accepted"
    await cp.call("StopTransaction", stop)  # a retry after a lost reply changes nothing

    page = await transactions_of(repos, cp.cp_id)
    assert len(page) == 1
    t = page[0]
    assert (t.transaction_id, t.meter_start_wh, t.meter_stop_wh, t.energy_wh) == (
        tx,
        1000,
        4200,
        3200,
    )
    assert t.stop_reason == "EVDisconnected"
    samples = await repos.meter_values.for_transaction(tx)
    assert [(s.measurand, s.value) for s in samples] == [
        ("Energy.Active.Import.Register", 2500.0),
        ("Power.Active.Import", 7000.0),
    ]


async def test_a_start_with_an_unknown_tag_gets_a_transaction_id_and_invalid(sessions, repos):
    cp = await connect(sessions, repos)
    reply = await cp.call(
        "StartTransaction",
        {"connectorId": 2, "idTag": "NOBODY", "meterStart": 0, "timestamp": "2026-11-25T11:00:00Z"},
    )
    assert reply["idTagInfo"]["status"] == "Invalid"
    assert reply["transactionId"] > 0


async def test_unknown_charge_points_and_wrong_passwords_are_refused(sessions, repos):
    result = await connect_one(sessions, unique_id("NEW"), "whatever-pass", "c1")
    assert not result.accepted and "unknown" in result.reason
    cp_id = unique_id("CP")
    await repos.charge_points.insert(cp_id, hash_password("the-real-one"), None)
    result = await connect_one(sessions, cp_id, "not-the-real-one", "c2")
    assert not result.accepted and "password" in result.reason


async def test_auto_register_admits_and_registers_unknown_charge_points(repos):
    s = ChargePointSessions(repos, auto_register=True, heartbeat_interval_s=60, command_timeout_s=5)
    s.start()
    cp_id = unique_id("AUTO")
    result = await connect_one(s, cp_id, "its-own-password", "c1")
    assert result.accepted
    row = await repos.charge_points.get_row(cp_id)
    assert row is not None and row["password_hash"] != "its-own-password"
    await s.close()


async def test_a_new_connection_replaces_the_old_one(sessions, repos):
    cp = await connect(sessions, repos)
    second = await connect_one(sessions, cp.cp_id, "a-good-password", "conn-new")
    assert second.accepted
    assert await sessions.poll(GATEWAY, 5) == [(cp.connection_id, None)]  # close the old one
    sessions.deliver([(cp.connection_id, cp.cp_id, '[2,"stale","Heartbeat",{}]')])
    new = Charger(sessions, cp.cp_id, "conn-new")
    assert "currentTime" in await new.call("Heartbeat", {})  # and only the new one is answered
    await sessions.disconnect(cp.cp_id, cp.connection_id)  # the old socket closing late
    assert sessions.is_connected(cp.cp_id)
    assert (await repos.charge_points.get(cp.cp_id)).connected


async def test_a_connect_asked_again_keeps_its_session(sessions, repos):
    """A gateway asks again when a host's answer was lost (Ray failed the call though it ran):
    the same connection is admitted again, its session goes on, and nothing is closed."""
    cp = await connect(sessions, repos)
    again = await connect_one(sessions, cp.cp_id, "a-good-password", cp.connection_id)
    assert again.accepted
    assert sessions.hosting([(cp.connection_id, cp.cp_id), ("gone", cp.cp_id)]) == [
        cp.connection_id
    ]
    # The next frame for the gateway is the heartbeat's reply, not a close of the connection.
    assert "currentTime" in await cp.call("Heartbeat", {})
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM connectivity_events WHERE charge_point_id = %s",
            (cp.cp_id,),
        )
        assert (await cur.fetchone())["n"] == 1


async def test_closings_that_come_together_are_marked_and_a_replaced_ones_is_not(sessions, repos):
    """Closings arriving at once are marked offline together (`CoalescedWrites`); one from
    a connection already replaced leaves the charger connected."""
    a, b, c = [await connect(sessions, repos) for _ in range(3)]
    assert (await connect_one(sessions, c.cp_id, "a-good-password", "conn-c-new")).accepted
    await asyncio.gather(
        *(sessions.disconnect(cp.cp_id, cp.connection_id) for cp in (a, b, c)),
    )
    for cp, connected in ((a, False), (b, False), (c, True)):
        row = await repos.charge_points.get_row(cp.cp_id)
        assert row["connected"] is connected and sessions.is_connected(cp.cp_id) is connected
        # What a command asks before it is built: the live session's version, or nothing.
        assert sessions.protocol_of(cp.cp_id) == ("ocpp1.6" if connected else None)
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT charge_point_id, count(*) AS n FROM connectivity_events
               WHERE event = 'disconnect' AND charge_point_id = ANY(%s)
               GROUP BY charge_point_id""",
            ([a.cp_id, b.cp_id, c.cp_id],),
        )
        assert {r["charge_point_id"]: r["n"] for r in await cur.fetchall()} == {
            a.cp_id: 1,
            b.cp_id: 1,
        }


async def test_connects_come_in_batches_answered_in_order(sessions, repos):
    """A gateway sends the connects that arrived together in one call; each gets its own
    answer, and the same charger twice in a batch keeps the later connection."""
    twice, wrong = unique_id("TWICE"), unique_id("WRONG")
    for cp_id in (twice, wrong):
        await repos.charge_points.insert(cp_id, hash_password("a-good-password"), None)
    results = await sessions.connect(
        GATEWAY,
        [
            ConnectRequest(twice, "a-good-password", "ocpp1.6", "first"),
            ConnectRequest(wrong, "not-its-password", "ocpp1.6", "w"),
            ConnectRequest(unique_id("UNKNOWN"), None, "ocpp2.0.1", "u"),
            ConnectRequest(twice, "a-good-password", "ocpp9", "v9"),
            ConnectRequest(twice, "a-good-password", "ocpp2.0.1", "second"),
        ],
    )
    assert [r.accepted for r in results] == [True, False, False, False, True]
    assert [r.reason for r in results[1:4]] == [
        "wrong password",
        "unknown charge point",
        "unsupported protocol 'ocpp9'",
    ]
    assert await sessions.poll(GATEWAY, 5) == [("first", None)]  # replaced within the batch
    row = await repos.charge_points.get_row(twice)
    assert row["connected"] and row["connection_id"] == "second"
    assert row["ocpp_protocol"] == "ocpp2.0.1"
    assert not (await repos.charge_points.get_row(wrong))["connected"]
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT event FROM connectivity_events WHERE charge_point_id = %s", (twice,)
        )
        assert [r["event"] for r in await cur.fetchall()] == ["connect"]
    new = Charger(sessions, twice, "second")
    reply = await new.call("Heartbeat", {})
    assert "currentTime" in reply


async def test_marking_chargers_connected_gets_through_a_deadlock(repos, database_url):
    """A batch of connects is marked in one statement; when a transaction holding one of its
    rows waits for another of them, PostgreSQL fails one side, and the batch is marked one
    charge point at a time instead of failing its connects."""
    # The batch locks its rows in id order: `taken` first, then it waits for `held`.
    taken, held = unique_id("DEADLOCK-1"), unique_id("DEADLOCK-2")
    for cp_id in (held, taken):
        await repos.charge_points.insert(cp_id, None, None)
    arrivals = [
        ChargePointArrival(held, "ocpp1.6", "h1"),
        ChargePointArrival(taken, "ocpp1.6", "t1"),
    ]
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as other,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watch,
    ):
        # The first to wait past its deadlock_timeout finds the cycle and fails: make sure
        # that is the batch (1 s, and watched closely), not this transaction.
        await other.execute("SET deadlock_timeout = '20s'")
        async with other.transaction():
            await other.execute("SELECT 1 FROM charge_points WHERE id = %s FOR UPDATE", (held,))
            marking = asyncio.create_task(repos.charge_points.mark_connected(arrivals))

            async def marking_waits_holding_taken() -> bool:
                # It has locked `taken` and waits for `held`: `taken` cannot be locked now.
                try:
                    await watch.execute(
                        "SELECT 1 FROM charge_points WHERE id = %s FOR UPDATE NOWAIT", (taken,)
                    )
                except psycopg.errors.LockNotAvailable:
                    return True
                return False

            await eventually(
                marking_waits_holding_taken, within=30, interval=0.01, message="not waiting"
            )
            # Waiting for `taken` closes the cycle: PostgreSQL fails the batch's statement,
            # and this one gets the row.
            await other.execute(
                "UPDATE charge_points SET last_seen_at = now() WHERE id = %s", (taken,)
            )
        await marking
    for cp_id, connection_id in ((held, "h1"), (taken, "t1")):
        row = await repos.charge_points.get_row(cp_id)
        assert row["connected"] and row["connection_id"] == connection_id


async def test_commands_reach_the_charger_and_report_its_reply(sessions, repos):
    cp = await connect(sessions, repos)
    pending = asyncio.create_task(sessions.call(cp.cp_id, "Reset", {"type": "Soft"}, 5))
    request = await cp.next_frame()
    assert request[0] == 2 and request[2] == "Reset" and request[3] == {"type": "Soft"}
    sessions.deliver(
        [(cp.connection_id, cp.cp_id, json.dumps([3, request[1], {"status": "Rejected"}]))]
    )
    result = await pending
    assert (result.action, result.status, result.response) == (
        "Reset",
        "Rejected",
        {"status": "Rejected"},
    )


async def test_command_failures_are_typed(sessions, repos):
    cp = await connect(sessions, repos)
    with pytest.raises(InvalidInput, match=r"not valid OCPP 1\.6"):
        await sessions.call(cp.cp_id, "Reset", {"type": "Sideways"}, 5)
    with pytest.raises(InvalidInput, match="not a command"):
        await sessions.call(cp.cp_id, "BootNotification", {}, 5)
    with pytest.raises(NotConnected):
        await sessions.call("NOT-CONNECTED", "Reset", {"type": "Soft"}, 5)
    with pytest.raises(CommandTimeout):
        await sessions.call(cp.cp_id, "ClearCache", {}, 0.3)


async def test_a_call_error_from_the_charger_is_reported(sessions, repos):
    cp = await connect(sessions, repos)
    pending = asyncio.create_task(sessions.call(cp.cp_id, "ClearCache", {}, 5))
    request = await cp.next_frame()
    sessions.deliver(
        [
            (
                cp.connection_id,
                cp.cp_id,
                json.dumps([4, request[1], "NotSupported", "no cache here", {}]),
            )
        ]
    )
    result = await pending
    assert result.status == "CallError" and result.response["errorCode"] == "NotSupported"


@pytest.mark.parametrize("module", [v16, v201], ids=["1.6", "2.0.1"])
def test_every_charger_initiated_message_has_a_handler(module):
    session_class = {v16: v16.ChargePointSession16, v201: v201.ChargePointSession201}[module]
    routes = create_route_map(session_class.__new__(session_class))
    assert set(routes) == set(module.CHARGER_INITIATED_ACTIONS)


# --- OCPP 2.0.1 ---------------------------------------------------------------------------


def tx_event(
    event_type,
    seq_no,
    tx_id,
    *,
    energy_wh=None,
    id_token=None,
    trigger="Authorized",
    at="2026-11-25T10:00:00Z",
    **extra,
):
    payload = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id, **extra},
        "evse": {"id": 1, "connectorId": 1},
    }
    if id_token:
        payload["idToken"] = {"idToken": id_token, "type": "ISO14443"}
    if energy_wh is not None:
        payload["meterValue"] = [
            {
                "timestamp": at,
                "sampledValue": [
                    {
                        "value": energy_wh / 1000,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "kWh"},
                    }
                ],
            }
        ]
    return payload


async def test_201_boot_and_status(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    boot = {
        "chargingStation": {"model": "DC-150", "vendorName": "ACME", "firmwareVersion": "3"},
        "reason": "PowerUp",
    }
    reply = await cp.call("BootNotification", boot)
    assert reply["status"] == "Accepted" and reply["interval"] == 300
    await cp.call(
        "StatusNotification",
        {
            "timestamp": "2026-11-25T10:00:00Z",
            "connectorStatus": "Occupied",
            "evseId": 2,
            "connectorId": 1,
        },
    )
    stored = await repos.charge_points.get(cp.cp_id)
    assert (stored.vendor, stored.model, stored.ocpp_protocol) == ("ACME", "DC-150", "ocpp2.0.1")
    assert stored.boot_info == boot
    assert [(c.connector_id, c.status) for c in stored.connectors] == [(2, "Occupied")]


async def test_201_authorize_tells_unknown_from_blocked(sessions, repos):
    blocked = unique_id("B")
    await repos.id_tags.insert(IdTag(id_tag=blocked, status=IdTagStatus.blocked))
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    for token, expected in (("NOBODY", "Unknown"), (blocked, "Blocked")):
        reply = await cp.call("Authorize", {"idToken": {"idToken": token, "type": "ISO14443"}})
        assert reply["idTokenInfo"]["status"] == expected


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_201_transaction_events_make_one_session_and_retries_change_nothing(
    sessions, repos, protocol
):
    """2.1 keeps 2.0.1's TransactionEvent: the same session, marked with its version."""
    tag = unique_id("T")
    await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos, protocol=protocol)
    tx = unique_id("tx")
    started = await cp.call(
        "TransactionEvent", tx_event("Started", 0, tx, energy_wh=1000, id_token=tag)
    )
    assert started["idTokenInfo"]["status"] == "Accepted"
    update = tx_event(
        "Updated",
        1,
        tx,
        energy_wh=2500,
        trigger="MeterValuePeriodic",
        at="2026-11-25T10:15:00Z",
        chargingState="Charging",
    )
    await cp.call("TransactionEvent", update)
    await cp.call("TransactionEvent", update)  # retried after a lost reply
    await cp.call(
        "TransactionEvent",
        tx_event(
            "Ended",
            2,
            tx,
            energy_wh=4000,
            trigger="EVDeparted",
            at="2026-11-25T10:30:00Z",
            stoppedReason="EVDisconnected",
        ),
    )
    (t,) = await transactions_of(repos, cp.cp_id)
    assert (t.transaction_id, t.protocol, t.id_tag, t.connector_id) == (tx, protocol, tag, 1)
    assert (t.meter_start_wh, t.meter_stop_wh, t.energy_wh) == (1000, 4000, 3000)
    assert t.stop_reason == "EVDisconnected" and t.stopped_at is not None
    energy = [s.value for s in await repos.meter_values.for_transaction(t.id)]
    assert energy == [1000.0, 2500.0, 4000.0]  # the retry did not add a reading


async def test_201_an_update_whose_start_was_lost_still_makes_a_session(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    tx = unique_id("tx")
    await cp.call(
        "TransactionEvent", tx_event("Updated", 3, tx, energy_wh=700, trigger="MeterValuePeriodic")
    )
    (t,) = await transactions_of(repos, cp.cp_id)
    assert t.transaction_id == tx and t.stopped_at is None


async def test_201_ev_charging_needs_become_the_sessions_demand(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    needs = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": "2026-11-25T18:00:00Z",
            "acChargingParameters": {
                "energyAmount": 42000,
                "evMinCurrent": 6,
                "evMaxCurrent": 16,
                "evMaxVoltage": 400,
            },
        },
    }
    # No session on that EVSE yet: nothing to plan for.
    assert (await cp.call("NotifyEVChargingNeeds", needs))["status"] == "Rejected"
    tx = unique_id("tx")
    await cp.call("TransactionEvent", tx_event("Started", 0, tx, energy_wh=0))
    assert (await cp.call("NotifyEVChargingNeeds", needs))["status"] == "Accepted"
    stored = await repos.events.recent(cp.cp_id, action="NotifyEVChargingNeeds")
    assert [e["payload"] for e in stored] == [needs, needs]
    (t,) = await transactions_of(repos, cp.cp_id)
    async with repos.pool.connection() as conn:
        demand = await (
            await conn.execute("SELECT * FROM session_demands WHERE transaction_id = %s", (t.id,))
        ).fetchone()
    assert demand["target_energy_kwh"] == 42.0 and demand["source"] == "ev"
    assert demand["ev_max_power_kw"] == 6.4  # 16 A x 400 V
    assert demand["departure_at"].isoformat() == "2026-11-25T18:00:00+00:00"


async def test_21_v2x_charging_needs_become_the_sessions_demand(sessions, repos):
    """A 2.1 EV that states its needs as V2X parameters only (target energy, power limits)."""
    cp = await connect(sessions, repos, protocol="ocpp2.1")
    tx = unique_id("tx")
    await cp.call("TransactionEvent", tx_event("Started", 0, tx, energy_wh=0))
    needs = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_BPT",
            "departureTime": "2026-11-25T19:00:00Z",
            "v2xChargingParameters": {
                "evTargetEnergyRequest": 30000,
                "maxChargePower": 11000,
                "maxDischargePower": 7000,
                "evMinV2XEnergyRequest": -10000,
            },
        },
    }
    assert (await cp.call("NotifyEVChargingNeeds", needs))["status"] == "Accepted"
    (t,) = await transactions_of(repos, cp.cp_id)
    async with repos.pool.connection() as conn:
        demand = await (
            await conn.execute("SELECT * FROM session_demands WHERE transaction_id = %s", (t.id,))
        ).fetchone()
    assert (demand["target_energy_kwh"], demand["ev_max_power_kw"]) == (30.0, 11.0)
    assert demand["departure_at"].isoformat() == "2026-11-25T19:00:00+00:00"
    # bidirectional (AC_BPT): what it may give back, for the vehicle-to-grid planner
    assert demand["v2x"] == {"max_discharge_kw": 7.0, "v2x_min_kwh": -10.0, "max_energy_kwh": None}

    # Needs past what the planner takes (here 5 MWh) are refused with the reason, not a
    # crash, and the demand it had stays.
    needs["chargingNeeds"]["v2xChargingParameters"]["evTargetEnergyRequest"] = 5_000_000
    reply = await cp.call("NotifyEVChargingNeeds", needs)
    assert reply["status"] == "Rejected", reply
    assert reply["statusInfo"]["reasonCode"] == "InvalidValue"
    assert "target_energy_kwh" in reply["statusInfo"]["additionalInfo"]
    async with repos.pool.connection() as conn:
        demand = await (
            await conn.execute("SELECT * FROM session_demands WHERE transaction_id = %s", (t.id,))
        ).fetchone()
    assert demand["target_energy_kwh"] == 30.0


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize(
    ("frame", "code_16", "code_201", "reply_id"),
    [
        ("this is not json", "FormationViolation", "RpcFrameworkError", "-1"),
        ('{"not": "an array"}', "ProtocolError", "RpcFrameworkError", "-1"),
        ('[7, "m1", "Heartbeat", {}]', "ProtocolError", "MessageTypeNotSupported", "m1"),
        ('[2, "m2", "Heartbeat"]', "ProtocolError", "RpcFrameworkError", "m2"),
        ('[2, "m3", "NoSuchAction", {}]', "NotImplemented", "NotImplemented", "m3"),
        ('[2, "m6", "Reset", {"type": "Soft"}]', "NotSupported", "NotSupported", "m6"),
        (
            '[2, "m4", "Heartbeat", {"unexpected": 1}]',
            "FormationViolation",
            "FormatViolation",
            "m4",
        ),
        ('[2, "m5", "StatusNotification", {"connectorId": "one"}]', None, None, "m5"),
    ],
)
async def test_malformed_frames_get_the_specs_call_error_and_the_session_goes_on(
    sessions, repos, protocol, frame, code_16, code_201, reply_id
):
    cp = await connect(sessions, repos, protocol=protocol)
    sessions.deliver([(cp.connection_id, cp.cp_id, frame)])
    error = await cp.next_frame()
    assert error[0] == 4 and error[1] == reply_id, error
    expected = code_16 if protocol == "ocpp1.6" else code_201
    if expected is not None:
        assert error[2] == expected, error
    assert len(error) == 5 and isinstance(error[3], str) and isinstance(error[4], dict)
    assert "currentTime" in await cp.call("Heartbeat", {})


async def test_a_message_the_database_refuses_fails_alone(sessions, repos):
    """One charger's message failing in the database (a negative connector id breaks a
    CHECK) gets a PropertyConstraintViolation; the messages of other chargers in the same
    group commit are committed and answered."""
    bad, good = await connect(sessions, repos), await connect(sessions, repos)
    status = {"connectorId": -1, "errorCode": "NoError", "status": "Available"}
    sessions.deliver(
        [
            (bad.connection_id, bad.cp_id, json.dumps([2, "bad-1", "StatusNotification", status])),
            (good.connection_id, good.cp_id, json.dumps([2, "good-1", "BootNotification", BOOT])),
        ]
    )
    replies = {}
    while len(replies) < 2:
        for connection_id, frame in await sessions.poll(GATEWAY, 10):
            replies[connection_id] = json.loads(frame)
    assert replies[bad.connection_id][:3] == [4, "bad-1", "PropertyConstraintViolation"]
    assert replies[good.connection_id][0] == 3
    assert (await repos.charge_points.get(good.cp_id)).vendor == "ACME"
    assert "currentTime" in await bad.call("Heartbeat", {})  # and the charger carries on


async def test_a_slow_gateway_on_a_live_node_keeps_its_sessions_past_the_lease(repos):
    """Past its lease, a gateway whose node the cluster still has is only slow (a storm on a
    busy machine): its chargers stay, until the longer lease; one whose node is gone loses
    them at the lease."""
    import time

    from sigecve.ocpp.sessions import GATEWAY_LEASE_S, SLOW_GATEWAY_LEASE_S

    live_nodes: set[str] = {GATEWAY}
    asked: list[set[str]] = []

    async def on_live_nodes(gateways: set[str]) -> set[str]:
        asked.append(set(gateways))
        return gateways & live_nodes

    s = ChargePointSessions(
        repos,
        auto_register=False,
        heartbeat_interval_s=300,
        command_timeout_s=5,
        gateways_on_live_nodes=on_live_nodes,
    )
    s.start()
    try:
        charger = await connect(s, repos)
        now = time.monotonic()
        await s.end_gone(now + GATEWAY_LEASE_S + 1)
        assert s.is_connected(charger.cp_id) and asked == [{GATEWAY}]
        await s.end_gone(now + SLOW_GATEWAY_LEASE_S + 1)
        assert not s.is_connected(charger.cp_id)

        charger = await connect(s, repos)  # through the same gateway, whose node now dies
        live_nodes.clear()
        await s.end_gone(time.monotonic() + GATEWAY_LEASE_S + 1)
        assert not s.is_connected(charger.cp_id)
    finally:
        await s.close()


async def test_a_gateway_not_heard_from_loses_its_sessions_and_a_silent_charger_its_own(
    sessions, repos
):
    """A gateway whose node died or was cut off never says its connections closed: once it
    has not polled for the lease, its chargers are offline. A charger silent for two
    heartbeat intervals and a minute, through a gateway still polling, is too."""
    import time

    from sigecve.ocpp.sessions import GATEWAY_LEASE_S, SILENCE_GRACE_S

    lost, silent = await connect(sessions, repos), await connect(sessions, repos)
    await lost.call("BootNotification", BOOT)
    now = time.monotonic()
    await sessions.end_gone(now)  # within the lease, speaking: nothing ends
    assert sessions.is_connected(lost.cp_id) and sessions.is_connected(silent.cp_id)

    await sessions.end_gone(now + GATEWAY_LEASE_S + 1)
    assert not sessions.is_connected(lost.cp_id) and not sessions.is_connected(silent.cp_id)
    assert not (await repos.charge_points.get(lost.cp_id)).connected

    other = await connect(sessions, repos)
    speaking = await connect(sessions, repos)
    await sessions.poll(GATEWAY, 0)  # the gateway is alive
    silence = 2 * sessions.heartbeat_interval_s + SILENCE_GRACE_S
    later = time.monotonic() + silence + 1
    sessions._hosted[speaking.cp_id].last_frame_at = later  # it spoke just now
    sessions._heard_from[GATEWAY] = later
    await sessions.end_gone(later)
    assert not sessions.is_connected(other.cp_id) and sessions.is_connected(speaking.cp_id)
    assert (await sessions.poll(GATEWAY, 1)) == [(f"conn-{other.cp_id}", None)]  # closed
    assert not (await repos.charge_points.get(other.cp_id)).connected


def _event(component: dict, variable: str, value: str, at: str, **extra) -> dict:
    return {
        "eventId": 1,
        "timestamp": at,
        "trigger": "Alerting",
        "actualValue": value,
        "eventNotificationType": "HardWiredNotification",
        "component": component,
        "variable": {"name": variable},
        **extra,
    }


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_2x_notify_event_is_read_as_connector_status_and_error_codes(
    sessions, repos, protocol
):
    """What 1.6 says in StatusNotification, 2.x says in NotifyEvent: the connector's state
    and its problem (techCode), cleared when it is over. Other components' events are kept
    as they came, and change no connector."""
    cp = await connect(sessions, repos, protocol=protocol)
    evse1 = {"name": "EVSE", "evse": {"id": 1}}
    await cp.call(
        "StatusNotification",
        {
            "timestamp": "2026-12-07T10:00:00Z",
            "connectorStatus": "Faulted",
            "evseId": 1,
            "connectorId": 1,
        },
    )
    events = [
        _event(evse1, "Problem", "true", "2026-12-07T10:00:01Z", techCode="GroundFailure"),
        _event(
            {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
            "AvailabilityState",
            "Unavailable",
            "2026-12-07T10:00:02Z",
        ),
        _event({"name": "TempSensor"}, "Temperature", "71", "2026-12-07T10:00:03Z"),
    ]
    payload = {"generatedAt": "2026-12-07T10:00:04Z", "seqNo": 0, "eventData": events}
    assert await cp.call("NotifyEvent", payload) == {}
    stored = await repos.charge_points.get(cp.cp_id)
    connectors = {c.connector_id: (c.status, c.error_code) for c in stored.connectors}
    assert connectors == {1: ("Faulted", "GroundFailure"), 2: ("Unavailable", None)}
    cleared = _event(evse1, "Problem", "false", "2026-12-07T10:05:00Z", cleared=True)
    await cp.call("NotifyEvent", {**payload, "eventData": [cleared]})
    async with repos.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT connector_id, status, error_code FROM status_events "
                "WHERE charge_point_id = %s ORDER BY timestamp",
                (cp.cp_id,),
            )
        ).fetchall()
    assert [(r["connector_id"], r["status"], r["error_code"]) for r in rows] == [
        (1, "Faulted", None),
        (1, "Faulted", "GroundFailure"),
        (2, "Unavailable", None),
        (1, "Faulted", "NoError"),
    ]
    kept = await repos.events.recent(cp.cp_id, action="NotifyEvent")
    assert len(kept) == 2 and kept[-1]["payload"] == payload


async def test_a_new_start_on_a_connector_closes_the_transaction_left_open_there(sessions, repos):
    """A charger that lost its session (a reboot, a host lost under it) starts a new one on
    the same connector without ending the old: the old is closed at the new start, with the
    energy its register shows, and a reason. Its real StopTransaction, if it comes after all,
    still wins; other connectors' sessions are left alone."""
    tag = unique_id("T")[:20]
    await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos)

    async def start(connector: int, meter: int, at: str) -> int:
        reply = await cp.call(
            "StartTransaction",
            {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": at},
        )
        return reply["transactionId"]

    lost = await start(1, 1000, "2026-12-07T08:00:00Z")
    other = await start(2, 500, "2026-12-07T08:05:00Z")
    await cp.call(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": lost,
            "meterValue": [
                {
                    "timestamp": "2026-12-07T08:30:00Z",
                    "sampledValue": [
                        {"value": "4000", "measurand": "Energy.Active.Import.Register"}
                    ],
                }
            ],
        },
    )
    new = await start(1, 4500, "2026-12-07T09:00:00Z")
    by_id = {t.transaction_id: t for t in await transactions_of(repos, cp.cp_id)}
    closed = by_id[lost]
    assert closed.stop_reason == "SupersededByNewTransaction"
    assert closed.stopped_at == parse_timestamp("2026-12-07T09:00:00Z")
    assert (closed.meter_stop_wh, closed.energy_wh) == (4500, 3500)  # the register ran on
    assert by_id[new].stopped_at is None and by_id[other].stopped_at is None
    await cp.call(
        "StopTransaction",
        {"transactionId": lost, "meterStop": 4200, "timestamp": "2026-12-07T08:40:00Z"},
    )
    by_id = {t.transaction_id: t for t in await transactions_of(repos, cp.cp_id)}
    assert (by_id[lost].meter_stop_wh, by_id[lost].stop_reason) == (4200, "Local")


async def test_a_2x_station_starting_on_a_busy_evse_closes_the_old_transaction(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    old, new = unique_id("tx"), unique_id("tx")
    await cp.call("TransactionEvent", tx_event("Started", 0, old, energy_wh=100))
    await cp.call(
        "TransactionEvent",
        tx_event("Started", 0, new, energy_wh=900, at="2026-11-25T11:00:00Z"),
    )
    by_id = {t.transaction_id: t for t in await transactions_of(repos, cp.cp_id)}
    assert by_id[old].stop_reason == "SupersededByNewTransaction"
    assert (by_id[old].meter_stop_wh, by_id[new].stopped_at) == (900, None)


async def test_a_reservation_is_used_expires_and_holds_its_connector(sessions, repos):
    from datetime import UTC, datetime, timedelta

    from sigecve.domain import Reservation

    holder, other = unique_id("T")[:20], unique_id("T")[:20]
    for tag in (holder, other):
        await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos)
    now = datetime.now(UTC)

    async def reserve(connector: int, tag: str, expires_in: timedelta) -> int:
        rid = await repos.reservations.next_id()
        await repos.reservations.insert(
            Reservation(
                id=rid,
                charge_point_id=cp.cp_id,
                connector_id=connector,
                id_tag=tag,
                expires_at=now + expires_in,
                status="Accepted",
                created_at=now,
            )
        )
        return rid

    held = await reserve(1, holder, timedelta(minutes=30))
    lapsed = await reserve(2, holder, timedelta(seconds=-1))

    async def start(connector: int, tag: str, **extra) -> dict:
        return await cp.call(
            "StartTransaction",
            {
                "connectorId": connector,
                "idTag": tag,
                "meterStart": 0,
                "timestamp": now.isoformat(),
                **extra,
            },
        )

    # Another tag on the reserved connector is refused; on a free one it may charge.
    assert (await start(1, other))["idTagInfo"]["status"] == "Invalid"
    assert (await start(3, other))["idTagInfo"]["status"] == "Accepted"
    # The holder's start uses the reservation, named or not.
    used = await start(1, holder, reservationId=held)
    assert used["idTagInfo"]["status"] == "Accepted"
    reservation = await repos.reservations.get(held)
    assert reservation.status == "Used" and reservation.used_at is not None
    (tx,) = [
        t
        for t in await transactions_of(repos, cp.cp_id)
        if t.transaction_id == used["transactionId"]
    ]
    assert reservation.transaction_id == tx.id
    # Unused past its time: Expired, and it holds nothing any more.
    assert (await repos.reservations.get(lapsed)).status == "Expired"
    assert (await start(2, other))["idTagInfo"]["status"] == "Accepted"


async def test_a_2x_station_ends_a_reservation_and_refuses_its_evse_to_others(sessions, repos):
    from datetime import UTC, datetime, timedelta

    from sigecve.domain import Reservation

    holder, other = unique_id("T")[:20], unique_id("T")[:20]
    for tag in (holder, other):
        await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    now = datetime.now(UTC)
    rids = []
    for _ in range(2):
        rid = await repos.reservations.next_id()
        rids.append(rid)
        await repos.reservations.insert(
            Reservation(
                id=rid,
                charge_point_id=cp.cp_id,
                connector_id=1,
                id_tag=holder,
                expires_at=now + timedelta(hours=1),
                status="Accepted",
                created_at=now,
            )
        )
    started = await cp.call(
        "TransactionEvent",
        tx_event("Started", 0, unique_id("tx"), id_token=other, at=now.isoformat()),
    )
    assert started["idTokenInfo"]["status"] == "Invalid"
    await cp.call(
        "ReservationStatusUpdate", {"reservationId": rids[0], "reservationUpdateStatus": "Removed"}
    )
    await cp.call(
        "ReservationStatusUpdate", {"reservationId": rids[1], "reservationUpdateStatus": "Expired"}
    )
    assert [(await repos.reservations.get(r)).status for r in rids] == ["Removed", "Expired"]
    started = await cp.call(
        "TransactionEvent",
        tx_event("Started", 0, unique_id("tx"), id_token=other, at=now.isoformat()),
    )
    assert started["idTokenInfo"]["status"] == "Accepted"


OCMF = (
    'OCMF|{"FV":"1.0","GI":"SIGEC-VE TEST","RD":[{"TM":"2026-12-07T10:00:00,000+0000 S",'
    '"RV":1.0,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SA":"ECDSA-secp256r1-SHA256","SD":"3045"}'
)


async def test_signed_meter_values_are_kept_with_their_transaction(sessions, repos):
    """What a calibrated meter signed (1.6 SignedData; 2.x signedMeterValue) is kept with
    the transaction as it came, a resent one once, for as long as the transaction."""
    tag = unique_id("T")[:20]
    await repos.id_tags.insert(IdTag(id_tag=tag))
    cp = await connect(sessions, repos)
    tx = (
        await cp.call(
            "StartTransaction",
            {"connectorId": 2, "idTag": tag, "meterStart": 0, "timestamp": "2026-12-07T10:00:00Z"},
        )
    )["transactionId"]
    signed = {
        "value": OCMF,
        "format": "SignedData",
        "context": "Transaction.Begin",
        "measurand": "Energy.Active.Import.Register",
    }
    reading = {"timestamp": "2026-12-07T10:00:00Z", "sampledValue": [signed, {"value": "0"}]}
    for _ in range(2):  # resent after a lost reply
        await cp.call(
            "MeterValues", {"connectorId": 2, "transactionId": tx, "meterValue": [reading]}
        )
    end = {**signed, "context": "Transaction.End", "value": OCMF.replace('RV":1.0', 'RV":3.5')}
    await cp.call(
        "StopTransaction",
        {
            "transactionId": tx,
            "meterStop": 3500,
            "timestamp": "2026-12-07T11:00:00Z",
            "transactionData": [{"timestamp": "2026-12-07T11:00:00Z", "sampledValue": [end]}],
        },
    )
    kept = await repos.meter_values.signed_for_transaction(tx)
    assert [(v.context, v.connector_id, v.signed_data) for v in kept] == [
        ("Transaction.Begin", 2, OCMF),
        ("Transaction.End", 2, end["value"]),
    ]
    # The numeric readings are not confused with the signed ones.
    assert [s.value for s in await repos.meter_values.for_transaction(tx)] == [0.0]

    cp2 = await connect(sessions, repos, protocol="ocpp2.1")
    tx2 = unique_id("tx")
    event = tx_event("Ended", 0, tx2, energy_wh=3500)
    event["meterValue"][0]["sampledValue"][0]["signedMeterValue"] = {
        "signedMeterData": "c2lnbmVk",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": "cHVibGlj",
    }
    await cp2.call("TransactionEvent", event)
    (t,) = await transactions_of(repos, cp2.cp_id)
    (v,) = await repos.meter_values.signed_for_transaction(t.id)
    assert (v.signed_data, v.encoding_method, v.public_key, v.connector_id) == (
        "c2lnbmVk",
        "OCMF",
        "cHVibGlj",
        1,
    )


async def test_a_transaction_replayed_after_an_offline_spell_is_stored_in_its_own_order(
    sessions, repos
):
    """A station back from offline sends what it queued, timestamps in the past, flagged
    offline; its Started may come after a later event (a reply lost on the way). The session
    keeps the start's time and reading, and is marked as recorded offline."""
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    tx = unique_id("tx")
    updated = tx_event(
        "Updated", 1, tx, energy_wh=2500, trigger="MeterValuePeriodic", at="2026-12-06T10:15:00Z"
    )
    started = tx_event("Started", 0, tx, energy_wh=1000, at="2026-12-06T10:00:00Z")
    ended = tx_event(
        "Ended", 2, tx, energy_wh=4000, trigger="EVDeparted", at="2026-12-06T10:30:00Z"
    )
    for event in (updated, started, ended):
        await cp.call("TransactionEvent", {**event, "offline": True})
    (t,) = await transactions_of(repos, cp.cp_id)
    assert t.started_at == parse_timestamp("2026-12-06T10:00:00Z")
    assert (t.meter_start_wh, t.meter_stop_wh, t.energy_wh, t.offline) == (1000, 4000, 3000, True)
    readings = [
        (s.timestamp.minute, s.value) for s in await repos.meter_values.for_transaction(t.id)
    ]
    assert readings == [(0, 1000.0), (15, 2500.0), (30, 4000.0)]  # in time order


async def test_a_16_transaction_id_never_reaches_a_2x_transaction(sessions, repos):
    """SIGEC-VE's own id of a 2.x session is a number a 1.6 charger could send: a station
    that comes back speaking 1.6 cannot stop or meter its 2.x session by that number."""
    cp_id = unique_id("CP")
    cp = await connect(sessions, repos, cp_id=cp_id, protocol="ocpp2.0.1")
    await cp.call("TransactionEvent", tx_event("Started", 0, unique_id("tx"), energy_wh=10))
    (t,) = await transactions_of(repos, cp_id)
    await sessions.disconnect(cp_id, cp.connection_id)
    result = await connect_one(sessions, cp_id, "a-good-password", f"conn16-{cp_id}")
    assert result.accepted
    cp16 = Charger(sessions, cp_id, f"conn16-{cp_id}")
    reply = await cp16.call(
        "StopTransaction",
        {"transactionId": t.id, "meterStop": 99, "timestamp": "2026-12-07T12:00:00Z"},
    )
    assert "idTagInfo" not in reply
    (again,) = await transactions_of(repos, cp_id)
    assert again.stopped_at is None and again.transaction_id == t.transaction_id
