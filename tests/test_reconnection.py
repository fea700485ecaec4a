"""What real chargers do on bad networks: reconnect elsewhere, connect twice, deliver late."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import websockets
from ocpp.v16 import call

from sigecve.simulator.charge_point import (
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
    basic_auth_header,
    connect,
)
from tests.conftest import eventually, free_port, start_system, unique_id
from tests.test_system import PASSWORD, add_tag, register


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


class Client:
    """A 1.6 client over one WebSocket, closed on exit."""

    def __init__(self, ws, cp_id: str) -> None:
        self.ws = ws
        self.cp = SimulatedChargePoint16(
            cp_id, ws, SimulationProfile(), SimulationCounters(), random.Random(1)
        )
        self.router = asyncio.create_task(self.cp.start())

    @property
    def gateway(self) -> str:
        return self.ws.response.headers["x-sigecve-gateway"]

    async def close(self) -> None:
        self.router.cancel()
        await self.ws.close()


async def open_client(system, cp_id: str) -> Client:
    return Client(await connect(system.ocpp_url, cp_id, PASSWORD), cp_id)


async def test_a_session_continues_on_another_gateway_replica(system):
    cp_id, tag = unique_id("MOVE"), unique_id("T")[:20]
    await register(system, cp_id)
    await add_tag(system, tag)
    first = await open_client(system, cp_id)
    started = await first.cp.send(
        call.StartTransaction(
            connector_id=1, id_tag=tag, meter_start=100, timestamp=iso(datetime.now(UTC))
        )
    )
    await first.close()
    # Reconnect until the ingress hands the charger to the other replica (bounded).
    for _ in range(20):
        second = await open_client(system, cp_id)
        if second.gateway != first.gateway:
            break
        await second.close()
    else:
        pytest.fail("the ingress never used the second gateway replica")
    try:
        second.cp.energy_wh[1] = 900
        await second.cp.meter_values(1, started.transaction_id, 7000)
        await second.cp.send(
            call.StopTransaction(
                meter_stop=1_600,
                timestamp=iso(datetime.now(UTC)),
                transaction_id=started.transaction_id,
            )
        )
    finally:
        await second.close()
    async with system.api() as api:
        (t,) = (await api.get("/transactions", params={"charge_point_id": cp_id})).json()["items"]
    assert (t["transaction_id"], t["energy_wh"]) == (started.transaction_id, 1_500)


async def test_a_second_connection_replaces_the_first(system):
    cp_id = unique_id("TWICE")
    await register(system, cp_id)
    old = await connect(system.ocpp_url, cp_id, PASSWORD)
    new = await open_client(system, cp_id)
    try:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(old.recv(), 15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        reply = await new.cp.send(call.Heartbeat())
        assert reply.current_time
    finally:
        await new.close()


async def test_transactions_queued_offline_are_accepted_late_and_in_order(system):
    cp_id, tag = unique_id("LATE"), unique_id("T")[:20]
    await register(system, cp_id)
    await add_tag(system, tag)
    hours_ago = datetime.now(UTC) - timedelta(hours=3)
    client = await open_client(system, cp_id)
    try:
        started = await client.cp.send(
            call.StartTransaction(
                connector_id=2, id_tag=tag, meter_start=5_000, timestamp=iso(hours_ago)
            )
        )
        for minutes, wh in ((15, 6_000), (30, 7_000)):
            client.cp.energy_wh[2] = wh
            await client.cp.send(
                call.MeterValues(
                    connector_id=2,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": iso(hours_ago + timedelta(minutes=minutes)),
                            "sampled_value": [{"value": str(wh), "unit": "Wh"}],
                        }
                    ],
                )
            )
        stop = call.StopTransaction(
            meter_stop=8_000,
            transaction_id=started.transaction_id,
            timestamp=iso(hours_ago + timedelta(minutes=45)),
        )
        await client.cp.send(stop)
    finally:
        await client.close()
    # The reply to the stop was "lost": the charger reconnects and sends it again.
    again = await open_client(system, cp_id)
    try:
        reply = await again.cp.send(stop)
        assert reply is not None
    finally:
        await again.close()
    async with system.api() as api:
        (t,) = (await api.get("/transactions", params={"charge_point_id": cp_id})).json()["items"]
    assert t["started_at"].startswith(iso(hours_ago)[:16])
    assert (t["meter_start_wh"], t["meter_stop_wh"], t["energy_wh"]) == (5_000, 8_000, 3_000)


async def test_raw_frames_keep_their_order_per_charge_point(system):
    """Frames pipelined without waiting are handled one at a time, in arrival order."""
    cp_id = unique_id("ORDER")
    await register(system, cp_id)
    async with websockets.connect(
        f"{system.ocpp_url}/{cp_id}",
        subprotocols=["ocpp1.6"],
        additional_headers=basic_auth_header(cp_id, PASSWORD),
    ) as ws:
        for i in range(20):
            await ws.send(json.dumps([2, f"hb-{i}", "Heartbeat", {}]))
        replies = [json.loads(await asyncio.wait_for(ws.recv(), 15)) for _ in range(20)]
    assert [r[1] for r in replies] == [f"hb-{i}" for i in range(20)]


async def test_a_charger_gone_while_being_admitted_is_not_left_connected(system, database_url):
    """A charger that drops its opening handshake while its host admits it (here its row is
    held, so marking it connected waits): once admitted, the session begun for it is ended and
    it is not shown connected."""
    cp_id = unique_id("GONE")
    await register(system, cp_id)
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watch,
    ):

        async def events() -> list[str]:
            cur = await watch.execute(
                "SELECT event FROM connectivity_events WHERE charge_point_id = %s ORDER BY id",
                (cp_id,),
            )
            return [row[0] for row in await cur.fetchall()]

        async with db.transaction():
            await db.execute("SELECT 1 FROM charge_points WHERE id = %s FOR UPDATE", (cp_id,))
            attempt = asyncio.create_task(connect(system.ocpp_url, cp_id, PASSWORD))

            async def admission_waiting() -> bool:
                cur = await watch.execute(
                    """SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                         AND query LIKE '%SET connected = true%'"""
                )
                return (await cur.fetchone())[0] == 1

            await eventually(admission_waiting, within=30, message="not being admitted")
            attempt.cancel()  # the charger gives up: its TCP connection closes mid-handshake
            with pytest.raises(asyncio.CancelledError):
                await attempt

        async def connected_then_disconnected() -> bool:
            return await events() == ["connect", "disconnect"]

        # Released: it is marked connected, then the gateway finds it gone.
        await eventually(connected_then_disconnected, message="left connected")
    async with system.api() as api:
        assert (await api.get(f"/charge-points/{cp_id}")).json()["connected"] is False


async def test_chargers_past_the_gateways_pending_connects_are_told_to_come_back(tmp_path):
    """A fleet reconnecting at once: past `SIGECVE_MAX_PENDING_CONNECTS` chargers being
    admitted, a gateway replica refuses the next at once with 503 and Retry-After (the charger
    backs off) rather than letting its handshake time out; once admitted ones are through, a
    charger gets in again."""
    system = start_system(
        tmp_path / "var",
        free_port(),
        SIGECVE_AUTO_REGISTER="true",
        SIGECVE_MAX_PENDING_CONNECTS="1",
        SIGECVE_ML_BOOTSTRAP_MODEL="false",
    )
    try:
        database_url = (tmp_path / "var" / "database_url").read_text().strip()
        first, second = unique_id("SLOW"), unique_id("NEXT")
        await (await connect(system.ocpp_url, first, None)).close()  # registered
        async with (
            await psycopg.AsyncConnection.connect(database_url) as db,
            # pg_stat_activity is read once per transaction: watched from outside the lock's.
            await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watch,
        ):
            # Hold the first charger's row: its next admission waits on marking it connected.
            async with db.transaction():
                await db.execute("SELECT 1 FROM charge_points WHERE id = %s FOR UPDATE", (first,))
                slow = asyncio.create_task(connect(system.ocpp_url, first, None))

                async def admission_waiting():
                    cur = await watch.execute(
                        """SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                             AND query LIKE '%SET connected = true%'"""
                    )
                    return (await cur.fetchone())[0] == 1

                await eventually(admission_waiting, within=30, message="first not admitting")
                with pytest.raises(websockets.InvalidStatus) as refused:
                    await connect(system.ocpp_url, second, None)
                assert refused.value.response.status_code == 503
                assert int(refused.value.response.headers["Retry-After"]) > 0
            # The lock is gone: the first is admitted, and the second gets in now.
            await (await slow).close()
        await (await connect(system.ocpp_url, second, None)).close()
    finally:
        system.stop()


async def test_a_half_open_connection_is_noticed_and_the_charger_marked_offline(system):
    """A charger whose network went without a close (power cut, cable, partition): its
    socket stays open, it answers nothing. The CSMS's WebSocket pings (every 20 s, 20 s
    for the pong) find it out and mark it offline within 40 s, where before it stayed
    'connected' until its TCP connection timed out, if ever."""
    import time

    cp_id = unique_id("MUTE")
    await register(system, cp_id)
    # No pings of its own: a charger gone sends nothing.
    ws = await connect(system.ocpp_url, cp_id, PASSWORD, ping_interval=None)
    client = Client(ws, cp_id)
    await client.cp.boot()

    async def connected() -> bool:
        async with system.api() as api:
            r = await api.get(f"/charge-points/{cp_id}")
        return r.json()["connected"]

    await eventually(connected, message="connected after boot")
    # Gone: nothing read from the socket again (so no pong), nothing sent, nothing closed.
    client.router.cancel()
    ws.transport.pause_reading()
    gone_at = time.monotonic()

    async def offline() -> bool:
        return not await connected()

    await eventually(offline, within=60, interval=0.5, message="marked offline")
    noticed_after = time.monotonic() - gone_at
    assert 10 < noticed_after < 50, noticed_after  # at most a ping interval and its timeout
    ws.transport.abort()
