"""Chargers over a multi-node cluster on this machine (`sigecve lab`), with faults, and the
checker's verdict on what was acknowledged (docs/cluster.md).

    python benchmarks/cluster.py --name steady --nodes 3 --chargers 10000 --seconds 600
    python benchmarks/cluster.py --name partition --nodes 3 --chargers 3000 --seconds 300 \\
        --fault partition:worker-1@120+60
    python benchmarks/cluster.py --name storm --nodes 3 --chargers 10000 --seconds 300 \\
        --storm-after 180

A fault is KIND[:ARG]:NODE@AT+FOR: `kill:worker-1@120+30` (healed, so restarted, 30 s
later), `partition:worker-1@120+60`, `loss:5:worker-2@120+60`, `kill:postgres@120+0` (its
supervisor restarts it). Each run: `sigecve lab up`, the simulator in the chargers'
namespace (`--realistic`, as `--processes` processes, spread over every node's ingress),
memory and CPU per node sampled every 10 s, the faults at their times, then the time until
every charger is connected again, the simulator's report and `sigecve lab check`. Results
are merged into benchmarks/results/cluster.json under `--name`. Root, Linux; everything runs in
the lab's own namespaces and is removed by `sigecve lab down` at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gc_log import ray_worker_name  # noqa: E402
from sigecve.lab import netns  # noqa: E402
from sigecve.lab.state import load  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "cluster.json"
SAMPLE_EVERY_S = 10.0
ID_TAG = "LAB-TAG"
# What a saturation run sends: answered from memory, and stored before the reply.
ACTIONS = ("Heartbeat", "MeterValues")


@dataclass
class Fault:
    kind: str
    arg: str | None
    node: str
    at_s: float
    for_s: float

    @classmethod
    def parse(cls, text: str) -> Fault:
        what, _, when = text.partition("@")
        at, _, length = when.partition("+")
        parts = what.split(":")
        if len(parts) == 2:
            kind, node, arg = parts[0], parts[1], None
        elif len(parts) == 3:
            kind, arg, node = parts
        else:
            raise argparse.ArgumentTypeError(f"not KIND[:ARG]:NODE@AT+FOR: {text!r}")
        return cls(kind, arg, node, float(at), float(length or 0))

    def words(self) -> list[str]:
        return [self.kind, *([self.arg] if self.arg else []), self.node]


def sigecve(var_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "composition.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "SIGECVE_VAR_DIR": str(var_dir)},
    )


def lab_status(var_dir: Path) -> dict:
    done = sigecve(var_dir, "lab", "status", "--json", timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def connected(var_dir: Path) -> int:
    cluster = lab_status(var_dir).get("cluster") or {}
    return cluster.get("charge_points_connected", -1)


def component(process: psutil.Process) -> str:
    """Which part of the system a process of a node is: PostgreSQL, HAProxy, Ray's GCS or
    raylet, a Ray worker by its actor ("ServeReplica:sigecve:Gateway"), or other."""
    name = process.name()
    if name.startswith("postgres"):
        return "postgresql"
    if "haproxy" in name:
        return "haproxy"
    if name in ("gcs_server", "raylet"):
        return name
    title = " ".join(process.cmdline())
    if title.startswith("ray::"):
        return ray_worker_name(title).removeprefix("ray::")
    return "other"


def node_usage(var_dir: Path) -> dict[str, dict]:
    """RSS (MiB) and CPU seconds so far of every process in each node's namespace, and the
    CPU seconds per component."""
    state = load(var_dir)
    usage = {}
    for node in state.topology.nodes:
        rss = cpu = 0.0
        parts: dict[str, float] = {}
        for pid in netns.pids(node.namespace):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu += t.user + t.system
                part = component(p)
                parts[part] = parts.get(part, 0.0) + t.user + t.system
        usage[node.name] = {
            "rss_mib": round(rss / 2**20),
            "cpu_s": round(cpu, 1),
            "components_cpu_s": {k: round(v, 2) for k, v in sorted(parts.items())},
        }
    return usage


def cpu_spent(before: dict[str, dict], after: dict[str, dict]) -> dict[str, float]:
    """CPU seconds per component, all nodes together, between two node_usage samples (pure).
    A process that ended in between is not counted; one that started is counted whole."""
    spent: dict[str, float] = {}
    for node, usage in after.items():
        earlier = before.get(node, {}).get("components_cpu_s", {})
        for part, seconds in usage["components_cpu_s"].items():
            spent[part] = spent.get(part, 0.0) + max(0.0, seconds - earlier.get(part, 0.0))
    return {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}


def lab_up(var_dir: Path, nodes: int):
    up = sigecve(var_dir, "lab", "up", "--nodes", str(nodes))
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr[-2000:]}")
    return load(var_dir)


def closed_loop(var_dir: Path, urls: str, clients: int, action: str, seconds: float) -> dict:
    """benchmarks/load.py's result for `clients` clients over the ingress `urls` (a comma
    list), run in the lab's chargers' namespace."""
    done = sigecve(
        var_dir,
        "lab",
        "exec",
        "--",
        sys.executable,
        str(ROOT / "benchmarks" / "load.py"),
        *("--url", urls, "--clients", str(clients), "--seconds", str(seconds)),
        *("--action", action, "--prefix", "SAT-"),
    )
    if done.returncode != 0:
        raise SystemExit(f"load failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def saturate(args: argparse.Namespace) -> dict:
    """Closed-loop load (benchmarks/load.py) through every ingress of a lab of 1, 2, ... nodes
    in turn: calls/s per action, and the CPU seconds each component spent per call."""
    var_dir = ROOT / "var" / "bench-lab"
    runs: dict[str, dict] = {}
    for nodes in args.saturate:
        state = lab_up(var_dir, nodes)
        try:
            urls = ",".join(state.ws_urls())
            # A first short run registers the clients (the lab admits chargers on sight).
            warm_up = closed_loop(var_dir, urls, args.clients, "Heartbeat", 5.0)
            actions: dict[str, dict] = {"warm-up": warm_up}
            for action in ACTIONS:
                before = node_usage(var_dir)
                result = closed_loop(var_dir, urls, args.clients, action, args.seconds)
                after = node_usage(var_dir)
                spent = cpu_spent(before, after)
                calls = max(1, result["calls"])
                actions[action] = {
                    **result,
                    "cpu_s": spent,
                    "cpu_ms_per_call": {k: round(v * 1000 / calls, 3) for k, v in spent.items()},
                    "rss_mib_per_node": {n: u["rss_mib"] for n, u in after.items()},
                }
                print(nodes, action, result["calls_per_s"], "calls/s", flush=True)
            runs[str(nodes)] = actions
        finally:
            sigecve(var_dir, "lab", "down")
    return {
        "command": "python benchmarks/cluster.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "clients": args.clients,
        "seconds": args.seconds,
        "saturation": runs,
    }


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
    }


def run(args: argparse.Namespace) -> dict:
    var_dir = ROOT / "var" / "bench-lab"
    state = lab_up(var_dir, args.nodes)
    try:
        api = state.api_url()
        sigecve(
            var_dir,
            "lab",
            "exec",
            "--",
            sys.executable,
            "-m",
            "sigecve.lab.probe",
            "call",
            "POST",
            f"{api}/id-tags",
            json.dumps({"id_tag": ID_TAG, "status": "Accepted"}),
        )
        report_file = var_dir / "lab" / f"{args.name}.json"
        simulate = [
            "simulate",
            "--url",
            ",".join(state.ws_urls()),
            "--count",
            str(args.chargers),
            "--processes",
            str(args.processes),
            "--realistic",
            "--charging-at-start",
            str(args.charging_at_start),
            "--id-prefix",
            "BENCH-",
            "--id-tags",
            ID_TAG,
            "--ramp",
            str(args.ramp),
            "--duration",
            str(args.seconds),
            "--report",
            str(report_file),
            *(["--storm-after", str(args.storm_after)] if args.storm_after else []),
        ]
        started = time.monotonic()
        simulator = subprocess.Popen(
            [
                *(sys.executable, "-m", "composition.cli", "lab", "exec", "--"),
                *(sys.executable, "-m", "composition.cli", *simulate),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "SIGECVE_VAR_DIR": str(var_dir)},
            start_new_session=True,
        )
        samples, events = [], []
        pending = sorted(args.fault, key=lambda f: f.at_s)
        heals: list[tuple[float, Fault]] = []
        recoveries: list[tuple[Fault, float]] = []
        next_sample = 0.0
        while simulator.poll() is None:
            now = time.monotonic() - started
            while pending and pending[0].at_s <= now:
                fault = pending.pop(0)
                done = sigecve(var_dir, "lab", "fault", *fault.words())
                events.append({"at_s": round(now, 1), "fault": fault.words(), "out": done.stdout})
                heals.append((fault.at_s + fault.for_s, fault))
            for heal_at, fault in list(heals):
                if heal_at <= now:
                    heals.remove((heal_at, fault))
                    if fault.node != "postgres":
                        sigecve(var_dir, "lab", "fault", "heal", fault.node)
                    events.append({"at_s": round(now, 1), "healed": fault.words()})
                    recoveries.append((fault, time.monotonic()))
            for fault, since in list(recoveries):
                if connected(var_dir) == args.chargers:
                    recoveries.remove((fault, since))
                    events.append(
                        {
                            "fault": fault.words(),
                            "all_connected_after_heal_s": round(time.monotonic() - since, 1),
                        }
                    )
            if now >= next_sample:
                samples.append(
                    {
                        "at_s": round(now, 1),
                        "connected": connected(var_dir),
                        "nodes": node_usage(var_dir),
                    }
                )
                next_sample += SAMPLE_EVERY_S
            time.sleep(1.0)
        for fault, _since in recoveries:
            events.append({"fault": fault.words(), "all_connected_after_heal_s": None})
        report = json.loads(report_file.read_text())
        check = sigecve(var_dir, "lab", "check", "--report", str(report_file))
        verdict = json.loads(report_file.with_suffix(".check.json").read_text())
    finally:
        with contextlib.suppress(Exception):
            os.killpg(simulator.pid, signal.SIGTERM)
        sigecve(var_dir, "lab", "down")
    summary = {k: v for k, v in report.items() if k not in ("chargers",)}
    return {
        "command": "python benchmarks/cluster.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "nodes": args.nodes,
        "chargers": args.chargers,
        "seconds": args.seconds,
        "simulator": summary,
        "check": {**verdict, "exit_status": check.returncode, "problems": verdict["problems"][:20]},
        "events": events,
        "samples": samples,
        "peak_rss_mib_per_node": {
            name: max(s["nodes"][name]["rss_mib"] for s in samples) for name in samples[0]["nodes"]
        }
        if samples
        else {},
    }


def recovery(result: dict, fault_at_s: float, until_s: float) -> str:
    """The fewest chargers booted after a fault began and before the next one (or the run's
    end), and how long until all were again (pure): from the chargers' own count every 10 s
    where the report has it, else the CSMS's (sampled every 10 s; it undercounts while its
    hosts are too busy to answer)."""
    booted = result["simulator"].get("booted_per_10s")
    if booted:
        # The bucket ending after the fault began: [at, at + 10) holds the count at its end.
        curve = [(int(at) + 10, n) for at, n in booted.items()]
    else:
        curve = [(s["at_s"], s["connected"]) for s in result["samples"]]
    curve = [(at, n) for at, n in curve if fault_at_s < at <= until_s]
    fewest = min((n for _, n in curve if n >= 0), default=None)
    if fewest is None:
        return "not counted"
    if fewest == result["chargers"]:
        return "none lost its connection"
    # Back once all are again, after the count first fell (a pulled link is noticed late).
    fell = next(i for i, (_, n) in enumerate(curve) if n < result["chargers"])
    for at, n in curve[fell:]:
        if n == result["chargers"]:
            return f"fewest {fewest:,}, all back within {at - fault_at_s:.0f} s"
    return f"fewest {fewest:,}, not all back"


def table(results: dict) -> str:
    """The docs' table of every run in cluster.json (pure)."""
    rows = [
        "| run | nodes | chargers | s | booted at the end | errors / drops | p99 after ramp "
        "| faults: chargers booted until the next one (every 10 s) "
        "| acknowledged: transactions / meter values "
        "| checker | peak memory per node (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        if "saturation" in r:
            continue
        sim, check = r["simulator"], r["check"]
        p99 = (sim.get("round_trip_after_ramp") or {}).get("all", {}).get("p99_ms")
        faults = [e for e in r["events"] if "out" in e]
        ends = [e["at_s"] for e in faults[1:]] + [r["seconds"]]
        back = [
            f"{' '.join(e['fault'])} at {e['at_s']:g} s: {recovery(r, e['at_s'], end)}"
            for e, end in zip(faults, ends, strict=False)  # no faults: one end, unused
        ]
        rows.append(
            f"| {name} | {r['nodes']} | {r['chargers']:,} | {r['seconds']:g} "
            f"| {sim.get('booted_at_end')} | {sim['errors']} / {sim['drops']} "
            f"| {p99} ms | {'; '.join(back) or '-'} "
            f"| {check['transactions_acknowledged']} / {check['meter_values_acknowledged']} "
            f"| {'clean' if check['clean'] else str(len(check['problems'])) + ' problems'} "
            f"| {', '.join(f'{k} {v:,}' for k, v in r['peak_rss_mib_per_node'].items())} |"
        )
    return "\n".join(rows)


def saturation_table(result: dict) -> str:
    """The docs' table of a saturation run: calls/s per node count and action, and where the
    CPU went per call (pure)."""
    rows = [
        "| nodes | action | clients | calls/s | p50 / p99 ms | errors "
        "| CPU ms per call, all nodes (largest parts) |",
        "| --- | --- | --- | ---: | --- | --- | --- |",
    ]
    for nodes, actions in result["saturation"].items():
        for action in ACTIONS:
            a = actions[action]
            total = sum(a["cpu_ms_per_call"].values())
            parts = ", ".join(
                f"{k} {v:.2f}" for k, v in list(a["cpu_ms_per_call"].items())[:5] if v >= 0.01
            )
            rows.append(
                f"| {nodes} | {action} | {a['clients']} | {a['calls_per_s']:,.0f} "
                f"| {a['p50_ms']:g} / {a['p99_ms']:g} | {a['errors']} "
                f"| {total:.2f}: {parts} |"
            )
    return "\n".join(rows)


def steady_window(result: dict) -> tuple[dict, dict] | None:
    """The first and last sample with every charger connected, before any fault (pure)."""
    first_fault = min((e["at_s"] for e in result["events"] if "out" in e), default=math.inf)
    window = [
        s
        for s in result["samples"]
        if s["connected"] == result["chargers"]
        and s["at_s"] < first_fault
        and all("components_cpu_s" in u for u in s["nodes"].values())
    ]
    return (window[0], window[-1]) if len(window) >= 2 else None


# How a component's name in node_usage is summed in the projection.
GROUPS = {
    "ChargePointHost": "charge point hosts",
    "ServeReplica:ocpp:OcppGateway": "gateways",
    "haproxy": "HAProxy",
    "postgresql": "PostgreSQL",
    "gcs_server": "Ray GCS + controller",
    "ServeController": "Ray GCS + controller",
}


def projection(steady: dict, fleets=(10_000, 50_000, 200_000)) -> str:
    """On paper (pure): what a fleet needs, scaled from a run's steady state (every charger
    connected, realistic traffic): CPU per component, calls/s and memory per charger. The
    calls are those after the ramp, so the run must have no faults."""
    window = steady_window(steady)
    if window is None:
        return "(no steady window with CPU per component in this run)"
    first, last = window
    span = last["at_s"] - first["at_s"]
    n = steady["chargers"]
    cores: dict[str, float] = {}
    for node, usage in last["nodes"].items():
        for part, seconds in usage["components_cpu_s"].items():
            spent = seconds - first["nodes"][node]["components_cpu_s"].get(part, 0.0)
            group = GROUPS.get(part, "other")
            cores[group] = cores.get(group, 0.0) + max(0.0, spent) / span
    sim = steady["simulator"]
    after = sim.get("round_trip_after_ramp") or {}
    steady_s = max(1.0, sim["duration_s"] - first["at_s"])
    calls = after.get("all", {}).get("count", 0) / steady_s / n
    stored = (
        (after.get("all", {}).get("count", 0) - after.get("Heartbeat", {}).get("count", 0))
        / steady_s
        / n
    )
    base_mib = sum(u["rss_mib"] for u in steady["samples"][0]["nodes"].values())
    mib = (sum(u["rss_mib"] for u in last["nodes"].values()) - base_mib) / n
    groups = [*dict.fromkeys(GROUPS.values()), "other"]
    rows = [
        f"From `{steady['command']}`, {first['at_s']:.0f}-{last['at_s']:.0f} s (every charger "
        f"connected): {calls * 1000:.1f} calls/s per 1,000 chargers ({stored * 1000:.1f} of "
        f"them stored), {sum(cores.values()):.2f} cores busy, {mib * 1024:.0f} KiB per charger "
        f"over the {base_mib / 1024:.1f} GiB of the idle nodes.",
        "",
        "| chargers | calls/s | PostgreSQL writes/s | cores busy | "
        + " | ".join(groups)
        + " | memory, GiB |",
        "| ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in groups) + " | ---: |",
    ]
    for fleet in fleets:
        k = fleet / n
        rows.append(
            f"| {fleet:,} | {calls * fleet:,.0f} | {stored * fleet:,.0f} "
            f"| {sum(cores.values()) * k:.1f} | "
            + " | ".join(f"{cores.get(g, 0.0) * k:.2f}" for g in groups)
            + f" | {mib * fleet / 1024:.0f} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--name", help="the result's key in cluster.json")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--chargers", type=int, default=3000)
    parser.add_argument("--processes", type=int, default=0, help="default: one per 2,500")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--ramp", type=float, default=60)
    parser.add_argument("--storm-after", type=float)
    parser.add_argument(
        "--charging-at-start",
        type=float,
        default=0.33,
        help="share of the chargers in a session from their first boot (a fleet seen mid-day)",
    )
    parser.add_argument("--fault", type=Fault.parse, action="append", default=[])
    parser.add_argument(
        "--saturate",
        type=lambda text: [int(n) for n in text.split(",")],
        help="instead: closed-loop load on a lab of each of these node counts, e.g. 1,2,3",
    )
    parser.add_argument("--clients", type=int, default=100, help="with --saturate")
    args = parser.parse_args()
    if not args.name:
        parser.error("--name is needed for a run")
    args.processes = args.processes or max(1, -(-args.chargers // 2500))
    result = saturate(args) if args.saturate else run(args)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.name] = result
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    if args.saturate:
        print(saturation_table(result))
        return 0
    print(
        json.dumps({k: result[k] for k in ("check", "events", "peak_rss_mib_per_node")}, indent=2)
    )
    return 0 if result["check"]["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
