"""Faults survived with nothing acknowledged lost: a charger is mid-transaction when a process
of the system is killed; it reconnects, goes on, and every meter value and the transaction
it got a reply for are in PostgreSQL. Each test states the recovery time it allows and
prints the one measured (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime

import psutil
import psycopg
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed

from sigecve.placement import host_index
from tests.conftest import RunningSystem, eventually, free_port, start_system, unique_id
from tests.ray_cluster import LocalCluster
from tests.test_reconnection import Client, iso, open_client
from tests.test_system import add_tag, register

RECOVERY_WITHIN_S = 30.0  # from the kill to the charger's BootNotification answered again


def ray_processes(system: RunningSystem, title: str) -> list[psutil.Process]:
    """The system's Ray worker processes whose title starts with `title`."""
    found = []
    for p in psutil.Process(system.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.cmdline()[:1] and p.cmdline()[0].startswith(title):
                found.append(p)
    return found


class Charging:
    """A charger mid-transaction that remembers every meter reading the CSMS acknowledged."""

    def __init__(self, system: RunningSystem, cp_id: str, tag: str) -> None:
        self.system, self.cp_id, self.tag = system, cp_id, tag
        self.energy_wh = 10_000
        self.acknowledged: list[int] = []
        self.transaction_id: int | None = None

    async def start(self, client: Client) -> None:
        await client.cp.boot()
        reply = await client.cp.send(
            call.StartTransaction(
                connector_id=1,
                id_tag=self.tag,
                meter_start=self.energy_wh,
                timestamp=iso(datetime.now(UTC)),
            )
        )
        assert reply.id_tag_info["status"] == "Accepted"
        self.transaction_id = reply.transaction_id

    async def meter(self, client: Client, readings: int) -> None:
        for _ in range(readings):
            self.energy_wh += 250
            client.cp.energy_wh[1] = self.energy_wh
            await client.cp.meter_values(1, self.transaction_id, 7_400)
            self.acknowledged.append(self.energy_wh)

    async def reconnect(self) -> Client:
        """Connect again until the system admits the charger and answers its boot."""

        async def attempt() -> Client | None:
            try:
                client = await open_client(self.system, self.cp_id)
            except Exception:
                return None
            try:
                await asyncio.wait_for(client.cp.boot(), 10)
            except Exception:
                await client.close()
                return None
            return client

        return await eventually(
            attempt,
            within=RECOVERY_WITHIN_S * 2,
            interval=0.5,
            message="the charger could not connect again",
        )

    async def stop(self, client: Client) -> None:
        await client.cp.send(
            call.StopTransaction(
                meter_stop=self.energy_wh,
                timestamp=iso(datetime.now(UTC)),
                transaction_id=self.transaction_id,
                reason="Local",
                id_tag=self.tag,
            )
        )

    def assert_nothing_lost(self, database_url: str) -> None:
        with psycopg.connect(database_url) as conn:
            stored = [
                round(r[0])
                for r in conn.execute(
                    """SELECT value FROM meter_values
                       WHERE transaction_id = %s AND measurand = 'Energy.Active.Import.Register'
                       ORDER BY timestamp""",
                    (self.transaction_id,),
                )
            ]
            stopped = conn.execute(
                "SELECT meter_stop_wh, stopped_at FROM transactions WHERE transaction_id = %s",
                (self.transaction_id,),
            ).fetchone()
        assert set(self.acknowledged) <= set(stored), sorted(set(self.acknowledged) - set(stored))
        assert stopped[0] == self.energy_wh and stopped[1] is not None


async def mid_transaction(
    system: RunningSystem, prefix: str, readings: int = 3, host: int | None = None
) -> tuple[Charging, Client]:
    """A registered charger with a tag of its own, in a transaction with `readings` meter
    values acknowledged; on charge-point host `host` (of the default two) if given."""
    cp_id, tag = unique_id(prefix), unique_id("T")[:20]
    while host is not None and host_index(cp_id, 2) != host:
        cp_id = unique_id(prefix)
    await register(system, cp_id)
    await add_tag(system, tag)
    charging = Charging(system, cp_id, tag)
    client = await open_client(system, cp_id)
    await charging.start(client)
    await charging.meter(client, readings)
    return charging, client


async def wait_closed(client: Client) -> int | None:
    """Until the system closes the charger's connection; its close code."""
    with contextlib.suppress(ConnectionClosed):
        await asyncio.wait_for(client.ws.wait_closed(), 30)
    await client.close()
    return client.ws.close_code


async def test_a_killed_host_actor_process_restarts_and_the_transaction_goes_on(
    system, database_url
):
    charging, client = await mid_transaction(system, "KILLHOST")

    hosts = ray_processes(system, "ray::ChargePointHost")
    assert hosts, "no host actor process found"
    killed_at = time.monotonic()
    for process in hosts:
        process.kill()
    # The gateway closes the connections of a host that died ("service restart").
    assert await wait_closed(client) == 1012
    client = await charging.reconnect()
    recovery_s = time.monotonic() - killed_at
    await charging.meter(client, 3)
    await charging.stop(client)
    await client.close()

    charging.assert_nothing_lost(database_url)
    assert recovery_s < RECOVERY_WITHIN_S
    restarted = ray_processes(system, "ray::ChargePointHost")
    assert {p.pid for p in restarted}.isdisjoint({p.pid for p in hosts})
    print(f"\nfault: host actor killed; served again after {recovery_s:.1f} s")


async def test_a_charger_connecting_while_its_host_restarts_is_admitted(system):
    """Ray refuses calls to a host actor it is restarting; the gateway asks the restarted one
    instead of failing the charger's handshake (it was an HTTP 500)."""
    cp_id = unique_id("RESTARTING")
    await register(system, cp_id)
    for process in ray_processes(system, "ray::ChargePointHost"):
        process.kill()
    client = await open_client(system, cp_id)
    try:
        assert await client.cp.boot() == 300
    finally:
        await client.close()


async def test_a_killed_gateway_replica_loses_nothing_and_the_charger_moves_on(
    system, database_url
):
    charging, client = await mid_transaction(system, "KILLGW")

    pid = int(client.gateway.split("-")[1])  # gateway-<pid>-<id>
    replica = psutil.Process(pid)
    assert replica.cmdline()[0].startswith("ray::ServeReplica:ocpp:OcppGateway")
    killed_at = time.monotonic()
    replica.kill()
    await wait_closed(client)
    client = await charging.reconnect()
    recovery_s = time.monotonic() - killed_at
    assert int(client.gateway.split("-")[1]) != pid
    await charging.meter(client, 3)
    await charging.stop(client)
    await client.close()

    charging.assert_nothing_lost(database_url)
    assert recovery_s < RECOVERY_WITHIN_S

    # Serve brings the replica count back.
    async def both_replicas() -> bool:
        return len(ray_processes(system, "ray::ServeReplica:ocpp:OcppGateway")) >= 2

    await eventually(
        both_replicas,
        within=60,
        interval=1,
        message="Serve did not replace the killed replica",
    )
    print(f"\nfault: gateway replica killed; served again after {recovery_s:.1f} s")


def acknowledged_at_least(charging: Charging, n: int):
    """A condition for `eventually`: the charger has had `n` meter values acknowledged."""

    async def condition() -> bool:
        return len(charging.acknowledged) >= n

    return condition


async def test_a_command_in_flight_when_the_host_dies_gets_a_clear_failure(
    system, tokens, database_url
):
    cp_id = unique_id("KILLCMD")
    await register(system, cp_id)
    client = await open_client(system, cp_id)
    await client.cp.boot()
    client.router.cancel()  # the charger stops reading: the command stays unanswered

    async def reset():
        async with system.api(tokens["operator"]) as api:
            return await api.post(f"/charge-points/{cp_id}/reset", json={"kind": "soft"})

    async def reset_sent() -> bool:
        with psycopg.connect(database_url) as conn:
            return bool(
                conn.execute(
                    """SELECT 1 FROM ocpp_messages WHERE charge_point_id = %s
                       AND direction = 'out' AND action = 'Reset'""",
                    (cp_id,),
                ).fetchone()
            )

    pending = asyncio.create_task(reset())
    await eventually(reset_sent, within=15, message="the command did not reach the charger")
    for process in ray_processes(system, "ray::ChargePointHost"):
        process.kill()
    r = await asyncio.wait_for(pending, 30)
    await client.close()
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable"
    assert "retry" in r.json()["error"]["message"]


async def test_a_flooding_charger_is_slowed_without_loss_and_the_others_do_not_wait(system):
    """Past its burst a charger's connection is read at SIGECVE_OCPP_RATE_PER_S (defaults:
    100, then 20/s): a flood of 200 calls sent without waiting is answered in full and in
    order, no sooner than the rate allows, and another charger's calls meanwhile go through."""
    flooder_id, other_id = unique_id("FLOOD"), unique_id("CALM")
    for cp_id in (flooder_id, other_id):
        await register(system, cp_id)
    flooder = await open_client(system, flooder_id)
    other = await open_client(system, other_id)
    # Both served first: the flood starts from a steady state (a host restarted by an earlier
    # fault test may still be coming up).
    for client in (flooder, other):
        await asyncio.wait_for(client.cp.boot(), RECOVERY_WITHIN_S)
    flooder.router.cancel()  # read the raw replies here
    count, burst, rate = 200, 100, 20.0
    started = time.monotonic()
    for i in range(count):
        await flooder.ws.send(json.dumps([2, f"f{i}", "Heartbeat", {}]))

    async def read_all() -> list[str]:
        ids = []
        while len(ids) < count:
            ids.append(json.loads(await flooder.ws.recv())[1])
        return ids

    replies = asyncio.create_task(read_all())
    for _ in range(5):
        reply = await asyncio.wait_for(other.cp.send(call.Heartbeat()), 10)
        assert reply.current_time
    assert not replies.done(), "the flood was not slowed"
    ids = await asyncio.wait_for(replies, 60)
    elapsed = time.monotonic() - started
    assert ids == [f"f{i}" for i in range(count)]  # every one answered, in order
    assert elapsed >= 0.9 * (count - burst) / rate
    await flooder.close()
    await other.close()


async def test_postgresql_restarting_under_load_loses_nothing_acknowledged(
    system, database_url, postgres
):
    """The database restarts while a charger sends meter values: messages that could not
    be stored are answered with InternalError and resent by the charger; every acknowledged
    one is in PostgreSQL afterwards, and the system answers again within the stated time."""
    charging, client = await mid_transaction(system, "PGRESTART", readings=0)
    refused = 0

    async def send_until_acknowledged(payload) -> None:
        nonlocal refused
        while True:
            try:
                await asyncio.wait_for(client.cp.call(payload, suppress=False), 15)
                return
            except Exception:  # InternalError while the database is away: send it again
                refused += 1
                await asyncio.sleep(0.2)  # a charger's retry interval

    async def meter_until(done: asyncio.Event) -> None:
        while not done.is_set():
            charging.energy_wh += 250
            value = charging.energy_wh
            await send_until_acknowledged(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=charging.transaction_id,
                    meter_value=[
                        {
                            "timestamp": iso(datetime.now(UTC)),
                            "sampled_value": [
                                {
                                    "value": str(value),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                }
                            ],
                        }
                    ],
                )
            )
            charging.acknowledged.append(value)

    done = asyncio.Event()
    load = asyncio.create_task(meter_until(done))
    await eventually(acknowledged_at_least(charging, 5), within=15)
    before = len(charging.acknowledged)
    restarted_at = time.monotonic()
    await asyncio.to_thread(postgres.restart)
    await eventually(
        acknowledged_at_least(charging, before + 5),
        within=RECOVERY_WITHIN_S,
        interval=0.2,
        message="no meter value acknowledged after the restart",
    )
    recovery_s = time.monotonic() - restarted_at
    done.set()
    await asyncio.wait_for(load, 30)
    await send_until_acknowledged(
        call.StopTransaction(
            meter_stop=charging.energy_wh,
            timestamp=iso(datetime.now(UTC)),
            transaction_id=charging.transaction_id,
            reason="Local",
            id_tag=charging.tag,
        )
    )
    await client.close()
    charging.assert_nothing_lost(database_url)
    async with system.api() as api:
        r = await api.get("/health")
        assert r.status_code == 200, r.text

        async def served() -> bool:  # the REST API's own pool is back too, by itself
            return (await api.get("/charge-points", params={"limit": 1})).status_code == 200

        await eventually(served, within=10, message="the REST API after the restart")
    print(
        f"\nfault: PostgreSQL restarted under load; storing again after {recovery_s:.1f} s, "
        f"{refused} messages refused meanwhile and resent"
    )


async def test_the_whole_system_killed_and_started_again_loses_nothing(tmp_path):
    """`sigecve up` and every process under it SIGKILLed (a crash, an OOM kill) with a
    charger mid-transaction; started again on the same var/ directory, the charger
    reconnects and finishes its transaction, and nothing it was answered for is lost."""
    var_dir, port = tmp_path / "var", free_port()
    env = {"SIGECVE_ML_BOOTSTRAP_MODEL": "false"}
    system = start_system(var_dir, port, **env)
    restarted = None
    try:
        charging, client = await mid_transaction(system, "CRASH")

        tree = [psutil.Process(system.process.pid), *ray_processes(system, "")]
        killed_at = time.monotonic()
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        system.process.wait(30)
        await wait_closed(client)

        restarted = start_system(var_dir, port, **env)
        charging.system = restarted
        client = await charging.reconnect()
        recovery_s = time.monotonic() - killed_at
        await charging.meter(client, 3)
        await charging.stop(client)
        await client.close()
        charging.assert_nothing_lost((var_dir / "database_url").read_text().strip())
        assert recovery_s < WHOLE_RESTART_WITHIN_S
        print(f"\nfault: whole system killed; served again after {recovery_s:.1f} s")
    finally:
        if restarted is not None:
            assert restarted.stop() == 0
        elif system.process.poll() is None:
            system.stop()


WHOLE_RESTART_WITHIN_S = 120.0  # a cold start of everything included


async def test_a_worker_node_lost_while_chargers_charge_loses_nothing(tmp_path):
    """A two-node Ray cluster on this machine (`ray start --head` and a second `ray start
    --address`); `sigecve up` joins it and spreads its charge-point hosts and gateway
    replicas over both nodes. The worker node is killed whole while chargers of both hosts
    are charging: Ray restarts the lost actors on the head, the chargers reconnect and
    finish their transactions, and nothing acknowledged is lost."""
    cluster = LocalCluster(workers=1)
    system = None
    try:
        system = start_system(
            tmp_path / "var",
            free_port(),
            RAY_ADDRESS=cluster.address,
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN=cluster.env["RAY_AUTH_TOKEN"],
            # Both nodes are on one machine: one ingress, on the head.
            SIGECVE_PROXY_LOCATION="HeadOnly",
            SIGECVE_GATEWAY_REPLICAS="2",
            SIGECVE_ML_BOOTSTRAP_MODEL="false",
        )
        worker = cluster.workers[0]
        assert worker.count("ray::ChargePointHost") == 1, "the hosts did not spread"
        # A charger on each host, so one is on the node that is lost whatever the placement.
        chargers = [await mid_transaction(system, f"NODE{i}", host=i) for i in range(2)]

        lost_at = time.monotonic()
        worker.kill()
        for i, (charging, client) in enumerate(chargers):
            await client.close()
            client = await charging.reconnect()
            # A call to a host on the lost node waits until Ray has restarted it elsewhere.
            await charging.meter(client, 1)
            chargers[i] = (charging, client)
        recovery_s = time.monotonic() - lost_at

        database_url = (tmp_path / "var" / "database_url").read_text().strip()
        for charging, client in chargers:
            await charging.meter(client, 3)
            await charging.stop(client)
            await client.close()
            charging.assert_nothing_lost(database_url)
        assert cluster.head.count("ray::ChargePointHost") == 2  # the lost one restarted here
        assert recovery_s < NODE_LOST_RECOVERY_WITHIN_S

        async def healthy() -> bool:
            async with system.api() as api:
                return (await api.get("/health")).status_code == 200

        # Serve replaces the REST and MCP replicas the node held on its own schedule.
        await eventually(healthy, within=NODE_LOST_RECOVERY_WITHIN_S, message="not healthy")
        healthy_s = time.monotonic() - lost_at
        print(
            f"\nfault: worker node lost; both chargers' meter values stored again after "
            f"{recovery_s:.1f} s, every deployment healthy after {healthy_s:.1f} s"
        )
    finally:
        if system is not None:
            system.stop()
        cluster.stop()


# Ray declares a node dead after missing its health checks (about 15 s by default), then
# restarts its actors elsewhere.
NODE_LOST_RECOVERY_WITHIN_S = 60.0
