"""`sigecve simulate`'s fleet against the running system: both protocols charge end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time

import psycopg
import pytest
from rich.console import Console

from sigecve.simulator.charge_point import (
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
)
from sigecve.simulator.charge_point_21 import SimulatedChargePoint21
from sigecve.simulator.charge_point_201 import SimulatedChargePoint201
from sigecve.simulator.fleet import (
    Storm,
    charge_point_ids,
    protocols_for,
    reconnect_backoff,
    run_fleet,
)
from sigecve.simulator.processes import counters_raw, merged_counters
from tests.conftest import eventually, unique_id

FAST = SimulationProfile(
    connectors=1,
    meter_interval_s=0.2,
    session_s=(0.6, 1.0),
    idle_s=(0.1, 0.3),
    id_tags=("SIM-TAG",),
)


def test_the_201_share_is_spread_evenly():
    assert protocols_for(4, 0.25).count("ocpp2.0.1") == 1
    assert protocols_for(20, 0.25).count("ocpp2.0.1") == 5
    assert protocols_for(3, 0.0) == ["ocpp1.6"] * 3
    assert protocols_for(3, 1.0) == ["ocpp2.0.1"] * 3


def test_a_storms_curve_counts_the_boots_again_within_each_step():
    storm = Storm(at=0.0, booted_after_s=[1.0, 4.0, 5.0, 6.0, 12.5])
    assert storm.booted_within(5.0) == {"5": 3, "10": 4, "15": 5}
    assert Storm(at=0.0).booted_within() == {}


def test_drops_are_counted_per_ten_seconds_and_add_up_over_processes():
    one, two = SimulationCounters(started_at=time.monotonic()), SimulationCounters()
    two.started_at = time.monotonic() - 25  # this process began 25 s ago
    one.failure(True, ConnectionError())
    two.failure(True, ConnectionError())
    two.failure(False, ConnectionError())  # never booted: an error, not a drop
    assert one.drops_per_10s == {0: 1} and two.drops_per_10s == {20: 1}
    total, _ = merged_counters([counters_raw(one, None), counters_raw(two, None)])
    assert total.drops_per_10s == {0: 1, 20: 1} and total.drops == 2


def test_chargers_booted_per_ten_seconds_add_up_over_processes():
    one, two = SimulationCounters(), SimulationCounters()
    # The second process missed 10 s (busy) and ended before the first.
    one.booted_per_10s, two.booted_per_10s = {0: 3, 10: 5, 20: 6}, {0: 2, 20: 4}
    total, _ = merged_counters([counters_raw(one, None), counters_raw(two, None)])
    assert total.booted_per_10s == {0: 5, 10: 7, 20: 10}
    one.booted_per_10s[30] = 6
    total, _ = merged_counters([counters_raw(one, None), counters_raw(two, None)])
    assert total.booted_per_10s[30] == 10


async def test_a_charger_sends_nothing_once_the_runs_report_is_taken():
    class Connection:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: str) -> None:
            self.sent.append(message)

    counters, connection = SimulationCounters(frozen=True), Connection()
    cp = SimulatedChargePoint16("CP-F", connection, FAST, counters, random.Random(1))
    boot = asyncio.create_task(cp.boot())
    for _ in range(5):  # a few turns of the loop: it would have sent by now
        await asyncio.sleep(0)
    assert not boot.done() and connection.sent == [] and counters.messages == 0
    boot.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await boot
    assert boot.cancelled()


class ScriptedCsms:
    """A stand-in connection that answers each CALL from a script per action, in turn (the
    last answer repeats): a payload dict, or a CALLERROR as (code, description)."""

    def __init__(self, answers: dict[str, list]) -> None:
        self.answers = answers
        self.actions: list[str] = []
        self.charger = None

    async def send(self, message: str) -> None:
        _, unique_id, action, _ = json.loads(message)
        self.actions.append(action)
        script = self.answers[action]
        answer = script.pop(0) if len(script) > 1 else script[0]
        reply = [4, unique_id, *answer, {}] if isinstance(answer, tuple) else [3, unique_id, answer]
        await self.charger.route_message(json.dumps(reply))  # queued for the waiting call


def _scripted(cls, answers: dict[str, list]):
    csms = ScriptedCsms(answers)
    counters = SimulationCounters()
    csms.charger = cls("CP-S", csms, FAST, counters, random.Random(1))
    return csms.charger, csms, counters


@pytest.mark.parametrize(
    "cls", [SimulatedChargePoint16, SimulatedChargePoint201, SimulatedChargePoint21]
)
async def test_a_boot_answered_with_an_error_or_pending_is_sent_again_on_the_same_link(cls):
    # The same answer's fields in both versions.
    boot_ok = {"status": "Accepted", "currentTime": "2026-12-07T00:00:00Z", "interval": 300}
    pending = {**boot_ok, "status": "Pending", "interval": 1}
    charger, csms, counters = _scripted(
        cls,
        {
            "BootNotification": [("InternalError", "database away"), pending, boot_ok],
            "StatusNotification": [{}],
        },
    )
    assert await asyncio.wait_for(charger.boot(), 30) == 300
    assert csms.actions[:3] == ["BootNotification"] * 3
    assert set(csms.actions[3:]) == {"StatusNotification"}  # nothing else before Accepted
    assert counters.boots == 1
    assert counters.call_error_kinds == {"BootNotification: InternalError: database away": 1}


async def test_an_authorize_answered_with_an_error_starts_nothing():
    charger, csms, counters = _scripted(
        SimulatedChargePoint16, {"Authorize": [("InternalError", "database away")]}
    )
    assert await charger.start_session(1, "SIM-TAG") is None
    charger, csms201, _ = _scripted(
        SimulatedChargePoint201, {"Authorize": [("InternalError", "database away")]}
    )
    await charger.charging_session(1)
    assert csms.actions == csms201.actions == ["Authorize"]
    assert counters.sessions_started == 0 and counters.call_errors == 1


def test_a_charger_whose_boot_was_not_answered_backs_off_further():
    assert reconnect_backoff(16.0, booted=False) == 16.0  # doubled after the wait: 32 s
    assert reconnect_backoff(16.0, booted=True) == 1.0


async def test_a_mixed_fleet_charges_through_the_system(system):
    prefix = unique_id("SIMF") + "-"
    ids = charge_point_ids(prefix, 3)  # 1.6, 2.0.1 and 2.1
    protocols = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
    async with system.api() as api:
        for cp_id in ids:
            r = await api.post("/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}"})
            assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": "SIM-TAG"})
        fleet = asyncio.create_task(
            run_fleet(
                system.ocpp_url,
                3,
                password_template="pw-{id}",
                id_prefix=prefix,
                profile=FAST,
                seed=7,
                share_201=1 / 3,
                share_21=1 / 3,
                console=Console(quiet=True),
            )
        )

        async def both_finished_a_session():
            done = {}
            for cp_id in ids:
                items = (await api.get("/transactions", params={"charge_point_id": cp_id})).json()
                done[cp_id] = [t for t in items["items"] if t["stopped_at"] is not None]
            return done if all(done.values()) else None

        try:
            done = await eventually(
                both_finished_a_session,
                within=60,
                interval=0.5,
                message="the simulated fleet finished no session",
            )
        finally:
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet
        sessions = [done[i][0] for i in ids]
        assert [t["protocol"] for t in sessions] == list(protocols)
        assert [type(t["transaction_id"]) for t in sessions] == [int, str, str]
        assert all(t["energy_wh"] > 0 for t in sessions)
        for cp_id, protocol in zip(ids, protocols, strict=True):
            cp = (await api.get(f"/charge-points/{cp_id}")).json()
            assert cp["ocpp_protocol"] == protocol and cp["vendor"] == "SIGEC-VE"
        assert cp["model"] == "Simulator-2.1"


async def test_a_fleet_observed_mid_day_charges_from_its_first_boot(system):
    """`charging_at_start`: those chargers start a session at their boot, not after an idle
    spell of up to hours (a fleet a third of which is charging, for scale runs)."""
    from dataclasses import replace

    from sigecve.simulator.charge_point import REALISTIC

    prefix, count = unique_id("WARM") + "-", 3
    async with system.api() as api:
        for cp_id in charge_point_ids(prefix, count):
            r = await api.post("/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}"})
            assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": "SIM-TAG"})
        fleet = asyncio.create_task(
            run_fleet(
                system.ocpp_url,
                count,
                password_template="pw-{id}",
                id_prefix=prefix,
                profile=replace(REALISTIC, id_tags=("SIM-TAG",), charging_at_start=1.0),
                seed=5,
                console=Console(quiet=True),
            )
        )

        async def all_charging():
            items = []
            for cp_id in charge_point_ids(prefix, count):
                cp = (await api.get(f"/charge-points/{cp_id}")).json()
                items += cp["active_transactions"]
            return items if len(items) >= count else None

        try:
            active = await eventually(all_charging, within=60, message="no session at boot")
        finally:
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet
        assert {t["connector_id"] for t in active} == {1}


async def test_simulate_reports_round_trips_and_a_reconnection_storm(system, tmp_path):
    """`sigecve simulate` as an operator runs it: a bounded run with a storm in the middle,
    its JSON report per action and the storm's recovery."""
    prefix, count = unique_id("STORM") + "-", 4
    async with system.api() as api:
        for cp_id in charge_point_ids(prefix, count):
            r = await api.post("/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}"})
            assert r.status_code == 201
    report_file = tmp_path / "report.json"
    simulate = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "composition.cli",
        "simulate",
        "--url",
        system.ocpp_url,
        "--count",
        str(count),
        "--share-201",
        "0.5",
        "--password-template",
        "pw-{id}",
        "--id-prefix",
        prefix,
        "--ramp",
        "1",
        "--storm-after",
        "4",
        "--duration",
        "10",
        "--report",
        str(report_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(simulate.communicate(), 90)
    assert simulate.returncode == 0
    report = json.loads(out)
    full = json.loads(report_file.read_text())
    assert report == {k: v for k, v in full.items() if k != "chargers"}
    assert sorted(full["chargers"]) == charge_point_ids(prefix, count)
    assert all(c["booted"] for c in full["chargers"].values())
    assert report["booted_at_end"] == count
    assert report["charge_points"] == count and report["boots"] == 2 * count
    assert report["errors"] == report["drops"] == report["call_errors"] == 0
    assert report["call_error_kinds"] == report["failure_kinds"] == {}
    assert report["storm"]["recovered"] == count and report["storm"]["not_recovered"] == 0
    assert report["storm"]["time_to_boot"]["max_ms"] < 10_000
    assert report["storm"]["time_to_reconnect"]["count"] == count
    curve = list(report["storm"]["booted_within_s"].values())
    assert curve == sorted(curve) and curve[-1] == count
    assert report["round_trip"]["BootNotification"]["count"] == 2 * count
    # each connector at every boot (1.6 also connector 0)
    assert report["round_trip"]["StatusNotification"]["count"] >= 2 * count * 2
    assert report["connect"]["count"] == 2 * count
    assert 0 < report["round_trip_all"]["p50_ms"] <= report["round_trip_all"]["p99_ms"]
    # After the 1 s ramp: the storm's boots, not the first charger's first one.
    after_ramp = report["round_trip_after_ramp"]
    assert count <= after_ramp["BootNotification"]["count"] < 2 * count
    assert 0 < after_ramp["all"]["count"] < report["round_trip_all"]["count"]
    assert report["messages_per_s"] > 0


async def test_a_fleet_in_processes_spreads_over_urls_and_moves_past_a_dead_one(system, tmp_path):
    """Two processes, two URLs of which one refuses connections: the chargers given the dead
    one first move on to the next and every charger boots; the merged report counts all,
    with every charger's ledger of what was acknowledged."""
    prefix, count = unique_id("PROC") + "-", 6
    async with system.api() as api:
        for cp_id in charge_point_ids(prefix, count):
            r = await api.post("/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}"})
            assert r.status_code == 201
    dead = "ws://127.0.0.1:9/ocpp"  # discard port: nothing listens
    report_file = tmp_path / "report.json"
    simulate = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "composition.cli",
        "simulate",
        "--url",
        f"{dead},{system.ocpp_url}",
        "--count",
        str(count),
        "--id-prefix",
        prefix,
        "--password-template",
        "pw-{id}",
        "--processes",
        "2",
        "--meter-interval",
        "1",
        "--duration",
        "12",
        "--report",
        str(report_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(simulate.communicate(), 120)
    assert simulate.returncode == 0
    report = json.loads(out)
    full = json.loads(report_file.read_text())
    assert report["processes"] == 2 and report["charge_points"] == count
    assert sorted(full["chargers"]) == charge_point_ids(prefix, count)
    assert report["booted_at_end"] == count and report["boots"] == count
    # Half of them tried the dead URL first: one failed attempt each, then booted.
    assert report["errors"] == count // 2 and report["drops"] == 0
    assert report["round_trip"]["BootNotification"]["count"] == count


async def test_a_missing_csms_makes_the_simulator_fail(tmp_path):
    """No charger could boot: a wrong URL or a CSMS down is an error, not an empty report."""
    simulate = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "composition.cli",
        "simulate",
        "--url",
        "ws://127.0.0.1:9/ocpp",
        "--duration",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(simulate.communicate(), 60)
    assert simulate.returncode == 1
    assert json.loads(out)["boots"] == 0
    assert b"no charge point booted" in err


@pytest.mark.parametrize("cls", [SimulatedChargePoint201, SimulatedChargePoint21])
async def test_a_2x_station_carries_its_transaction_across_a_reconnection(
    system, database_url, cls
):
    """As a real station does: the connection drops mid-session, it reconnects, and the
    same transaction goes on (seqNo running on) to its end. The CSMS has one session."""
    from dataclasses import replace

    from sigecve.simulator.charge_point import ChargerMemory, connect

    cp_id = unique_id("CARRY")
    async with system.api() as api:
        r = await api.post("/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}"})
        assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": "SIM-TAG"})
    profile = replace(FAST, session_s=(3.0, 3.0))
    rng = random.Random(4)
    memory = ChargerMemory.new(rng, 1)
    protocol = "ocpp2.1" if cls is SimulatedChargePoint21 else "ocpp2.0.1"

    async def connection():
        ws = await connect(system.ocpp_url, cp_id, f"pw-{cp_id}", protocol=protocol)
        cp = cls(cp_id, ws, profile, SimulationCounters(), rng, memory)
        router = asyncio.create_task(cp.start())
        await cp.boot()
        await cp.send_unacknowledged()
        return ws, cp, router

    ws, cp, router = await connection()
    charging = asyncio.create_task(cp.charging_session(1))
    async with system.api() as api:

        async def started():
            items = (await api.get("/transactions", params={"charge_point_id": cp_id})).json()
            return items["items"] or None

        [first] = await eventually(started, within=20, message="no session started")
        seq_before = memory.sessions[1].seq_no
        charging.cancel()
        router.cancel()
        await ws.close()  # the link drops mid-session
        assert memory.sessions[1].transaction_id == first["transaction_id"]

        ws, cp, router = await connection()
        try:
            await asyncio.wait_for(cp.charging_session(1), 30)  # goes on, to its end
        finally:
            router.cancel()
            await ws.close()
        assert 1 not in memory.sessions and memory.sessions == {}
        items = (await api.get("/transactions", params={"charge_point_id": cp_id})).json()
        [t] = items["items"]
        assert t["transaction_id"] == first["transaction_id"] and t["stopped_at"] is not None
        assert t["energy_wh"] > 0
    with psycopg.connect(database_url) as conn:
        seqs = [
            r[0]
            for r in conn.execute(
                "SELECT seq_no FROM transaction_events WHERE charge_point_id = %s ORDER BY seq_no",
                (cp_id,),
            )
        ]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > seq_before
