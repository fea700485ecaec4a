"""`sigecve lab` as an operator runs it: two Ray nodes in network namespaces, fifty
simulated chargers spread over both ingresses, the worker cut off for twenty seconds and
healed; every charger comes back and the checker finds nothing acknowledged lost or stored
twice. Needs root and nftables (CI installs them)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import eventually, unique_id

CHARGERS = 50
PARTITION_S = 20


def sigecve(var_dir, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "composition.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SIGECVE_VAR_DIR": str(var_dir)},
    )


def status(var_dir) -> dict:
    done = sigecve(var_dir, "lab", "status", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def lab(tmp_path):
    var_dir = tmp_path / "var"
    up = sigecve(var_dir, "lab", "up", "--nodes", "2", "--chargers", str(CHARGERS))
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield var_dir, up.stdout
    finally:
        down = sigecve(var_dir, "lab", "down", timeout=120)
        assert down.returncode == 0, down.stderr
        assert not [
            n
            for n in subprocess.run(
                ["ip", "netns", "list"], capture_output=True, text=True
            ).stdout.split()
            if n.startswith("sgvlab-")
        ]


def all_back(var_dir, worker_ip: str):
    async def check():
        report = await asyncio.to_thread(status, var_dir)
        cluster = report["cluster"]
        if cluster is None or cluster["charge_points_connected"] != CHARGERS:
            return None
        alive = {n["ip"]: n for n in cluster["nodes"] if n["alive"]}
        worker = alive.get(worker_ip)
        # Back in the cluster with its own ingress (a gateway replica, so a Serve proxy).
        if worker is None or not any("OcppGateway" in k for k in worker["actors"]):
            return None
        return report

    return check


def worker_lost(var_dir, worker_ip: str):
    """Ray has declared the partitioned worker dead: its hosts' chargers lost their sessions
    and must reconnect, which is what the check below counts on."""

    async def check():
        report = await asyncio.to_thread(status, var_dir)
        cluster = report["cluster"]
        if cluster is None:
            return None
        alive = {n["ip"] for n in cluster["nodes"] if n["alive"]}
        return report if worker_ip not in alive else None

    return check


async def test_a_partitioned_worker_comes_back_and_nothing_acknowledged_is_lost(lab):
    var_dir, printed = lab
    lines = printed.splitlines()
    assert lines[0] == "SIGEC-VE lab ready"
    nodes = [line.split() for line in lines[1:3]]
    assert [n[0] for n in nodes] == ["node", "node"] and nodes[0][1] == "head"
    worker_ip = nodes[1][2]
    assert nodes[1][3] == f"ws://{worker_ip}:8000/ocpp"

    # Spread: both nodes host chargers and both ingresses let them in.
    async def spread():
        cluster = (await asyncio.to_thread(status, var_dir))["cluster"]
        if not cluster or cluster["charge_points_connected"] != CHARGERS:
            return None
        live = [n for n in cluster["nodes"] if n["alive"]]
        ok = len(live) == 2 and all(
            n["charge_points_entered"] > 0 and n["charge_points_hosted"] > 0 for n in live
        )
        return cluster if ok else None

    before = await eventually(spread, within=90, interval=2, message="chargers on both nodes")
    for kind in ("ChargePointHost", "FailureScorer"):
        assert all(n["actors"].get(kind) == 1 for n in before["nodes"] if n["alive"])

    # PostgreSQL killed under the chargers: the health check answers at once (503 while it
    # is away), the supervisor starts it again, and chargers' retries go through.
    api = lines[3].split()[1]
    watch = ("sigecve.lab.probe", "watch", "60", f"{api}/health")
    watcher = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "composition.cli", "lab", "exec", "--", sys.executable, "-m"),
        *watch,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "SIGECVE_VAR_DIR": str(var_dir)},
    )
    first = await asyncio.wait_for(watcher.stdout.readline(), 30)  # it is watching
    killed = await asyncio.to_thread(sigecve, var_dir, "lab", "fault", "kill", "postgres")
    assert killed.returncode == 0, killed.stderr
    out, _ = await asyncio.wait_for(watcher.communicate(), 90)
    answers = [json.loads(line) for line in (first + out).decode().splitlines()]
    assert watcher.returncode == 0, answers  # a 503, then healthy again by itself
    assert any(a["status"] == 503 for a in answers), answers
    assert max(a["took_s"] for a in answers) < 1.0, answers

    cut = sigecve(var_dir, "lab", "fault", "partition", "worker-1", timeout=30)
    assert cut.returncode == 0, cut.stderr
    assert status(var_dir)["nodes"][1]["faults"] == {"partition": ""}
    await asyncio.sleep(PARTITION_S)  # the fault's length, not a synchronisation
    # A cut shorter than Ray's node timeout drops no session: hold it until Ray sees it.
    await eventually(
        worker_lost(var_dir, worker_ip), within=120, interval=2, message="worker never lost"
    )
    healed = sigecve(var_dir, "lab", "fault", "heal", "worker-1", timeout=60)
    assert healed.returncode == 0, healed.stderr

    # Every charger connected again, the worker back with an ingress of its own.
    await eventually(all_back(var_dir, worker_ip), within=240, interval=3, message="recovery")

    check = sigecve(var_dir, "lab", "check", timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    verdict = json.loads((var_dir / "lab" / "chargers.check.json").read_text())
    assert verdict["clean"] and verdict["chargers"] == CHARGERS
    assert verdict["booted_at_end"] == verdict["connected_in_csms"] == CHARGERS
    assert verdict["transactions_acknowledged"] > 0 and verdict["meter_values_acknowledged"] > 0
    # Chargers lost their connection mid-session and went on with the same transaction.
    assert verdict["carried_across_reconnects"] > 0


def test_lab_commands_fail_clearly(tmp_path):
    var_dir = tmp_path / "var"
    for args, says in [
        (("lab", "status"), "no lab is up"),
        (("lab", "fault", "kill", "worker-1"), "no lab is up"),
        (("lab", "check"), "no lab is up"),
        (("lab", "up", "--nodes", "0"), "nodes"),
        (("lab", "fault", "explode", "head"), "kill NODE"),
    ]:
        done = sigecve(var_dir, *args, timeout=60)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert says in done.stderr, (args, done.stderr)


def _charger(started=None, stopped=(), meter_values=None, pending=0, booted=True):
    return {
        "protocol": "ocpp1.6",
        "booted": booted,
        "unacknowledged": pending,
        "started": {str(t): c for t, c in (started or {}).items()},
        "stopped": list(stopped),
        "meter_values": {str(t): n for t, n in (meter_values or {}).items()},
        "carried": [],
    }


def test_the_checker_finds_losses_and_duplicates():
    from sigecve.lab.check import StoredTransaction, compare

    stored = {
        1: StoredTransaction("A", 1, True, 3),
        2: StoredTransaction("A", 2, False, 5),  # one reading more than acknowledged
        3: StoredTransaction("B", 1, False, 0),  # B never heard of it
    }
    by_charger = {"A": {1, 2}, "B": {3}}
    clean = compare(
        {"A": _charger({1: 1}, [1], {1: 3}), "C": _charger()},
        stored,
        {"A": {1}},
        connected={"A", "C"},
    )
    assert clean.clean and clean.transactions_acknowledged == clean.stops_acknowledged == 1
    verdict = compare(
        {
            "A": _charger({1: 1, 2: 2, 9: 1}, [1, 2], {1: 4, 2: 4}),
            "B": _charger(booted=False),
            "D": _charger(pending=1),
        },
        stored,
        by_charger,
        connected={"A"},
    )
    problems = "\n".join(verdict.problems)
    assert "A: acknowledged transaction 9 is not stored" in problems
    assert "A: acknowledged stop of transaction 2 is not stored" in problems
    assert "A: transaction 1: 4 meter values acknowledged, 3 stored" in problems
    assert "A: transaction 2: 5 meter values stored for 4 acknowledged" in problems
    assert "B: not booted" in problems and "B: the CSMS does not have it connected" in problems
    assert "B: 1 stored transactions it was never acknowledged" in problems
    assert not any(p.startswith("D:") and "twice" in p for p in verdict.problems)
    # A start still unanswered at the end may be stored without an acknowledgement.
    assert compare({"B": _charger(pending=1)}, stored, {"B": {3}}, None).clean


def test_the_checker_reads_only_the_transactions_of_this_run(database_url):
    """The lab's database keeps earlier runs, whose chargers had the same ids: a transaction
    older than the run is not one it counted twice."""
    import psycopg

    from sigecve.lab.check import read_stored

    cp_id = unique_id("CHECK-")
    run_began = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO charge_points (id) VALUES (%s)", (cp_id,))
        ids = [
            conn.execute(
                """INSERT INTO transactions (charge_point_id, connector_id, id_tag, started_at,
                       meter_start_wh, start_id_tag_status)
                   VALUES (%s, 1, 'TAG', %s, 0, 'Accepted') RETURNING transaction_id""",
                (cp_id, run_began + timedelta(minutes=minutes)),
            ).fetchone()[0]
            for minutes in (-30, 0, 5)  # an earlier run's, then two of this one
        ]
    stored, by_charger = read_stored(database_url, [cp_id], since=run_began)
    assert set(stored) == by_charger[cp_id] == set(ids[1:])
    assert set(read_stored(database_url, [cp_id])[0]) == set(ids)  # no start: all of them
