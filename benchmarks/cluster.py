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
are merged into docs/benchmarks/cluster.json under `--name`. Root, Linux; everything runs in
the lab's own namespaces and is removed by `sigecve lab down` at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

from sigecve.lab import netns  # noqa: E402
from sigecve.lab.state import load  # noqa: E402

OUT = ROOT / "docs" / "benchmarks" / "cluster.json"
SAMPLE_EVERY_S = 10.0
ID_TAG = "LAB-TAG"


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
        [sys.executable, "-m", "sigecve.cli", *args],
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


def node_usage(var_dir: Path) -> dict[str, dict]:
    """RSS (MiB) and CPU seconds so far of every process in each node's namespace."""
    state = load(var_dir)
    usage = {}
    for node in state.topology.nodes:
        rss = cpu = 0.0
        for pid in netns.pids(node.namespace):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu += t.user + t.system
        usage[node.name] = {"rss_mib": round(rss / 2**20), "cpu_s": round(cpu, 1)}
    return usage


def run(args: argparse.Namespace) -> dict:
    var_dir = ROOT / "var" / "bench-lab"
    up = sigecve(var_dir, "lab", "up", "--nodes", str(args.nodes))
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr[-2000:]}")
    state = load(var_dir)
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
                *(sys.executable, "-m", "sigecve.cli", "lab", "exec", "--"),
                *(sys.executable, "-m", "sigecve.cli", *simulate),
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
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version(),
        },
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


def recovery(result: dict, fault_at_s: float) -> str:
    """From the samples (every 10 s): the fewest chargers the CSMS had connected after a
    fault began, and how long until it had all of them again (pure)."""
    after = [s for s in result["samples"] if s["at_s"] > fault_at_s]
    fewest = min((s["connected"] for s in after if s["connected"] >= 0), default=None)
    if fewest == result["chargers"]:
        return "none lost its connection"
    for s in after:
        if s["connected"] == result["chargers"]:
            return f"fewest {fewest:,}, all back within {s['at_s'] - fault_at_s:.0f} s"
    return f"fewest {fewest}, not all back"


def table(results: dict) -> str:
    """The docs' table of every run in cluster.json (pure)."""
    rows = [
        "| run | nodes | chargers | s | booted at the end | errors / drops | p99 after ramp "
        "| faults (from samples every 10 s) | acknowledged: transactions / meter values "
        "| checker | peak memory per node (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        sim, check = r["simulator"], r["check"]
        p99 = (sim.get("round_trip_after_ramp") or {}).get("all", {}).get("p99_ms")
        back = [
            f"{' '.join(e['fault'])} at {e['at_s']:g} s: {recovery(r, e['at_s'])}"
            for e in r["events"]
            if "out" in e
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--table", action="store_true", help="print the docs' table and end")
    parser.add_argument("--name", help="the result's key in cluster.json")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--chargers", type=int, default=3000)
    parser.add_argument("--processes", type=int, default=0, help="default: one per 2,500")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--ramp", type=float, default=60)
    parser.add_argument("--storm-after", type=float)
    parser.add_argument("--fault", type=Fault.parse, action="append", default=[])
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(OUT.read_text())))
        return 0
    if not args.name:
        parser.error("--name is needed for a run")
    args.processes = args.processes or max(1, -(-args.chargers // 2500))
    result = run(args)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.name] = result
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(
        json.dumps({k: result[k] for k in ("check", "events", "peak_rss_mib_per_node")}, indent=2)
    )
    return 0 if result["check"]["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
