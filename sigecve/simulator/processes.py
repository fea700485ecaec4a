"""One simulated fleet over several processes: each process has its own open-file limit
(20,000 here), and a fleet of 10,000 chargers needs about one descriptor each and more
CPU than one event loop gives.

The parent starts `sigecve simulate ... --part i/n` children; each runs every n-th charger
and writes its counters to a progress file every second and its report at the end; the
parent shows their sum live and merges their reports into one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.live import Live

from sigecve.simulator.charge_point import SimulationCounters
from sigecve.simulator.metrics import LatencyHistogram

INT_FIELDS = (
    "connected",
    "boots",
    "sessions_started",
    "sessions_stopped",
    "refused_tags",
    "errors",
    "drops",
    "call_errors",
    "reconnects",
    "messages",
)


def counters_raw(counters: SimulationCounters, storm) -> dict:
    """Everything a parent needs to add this process's counters to the others'."""
    raw: dict = {f: getattr(counters, f) for f in INT_FIELDS}
    raw["call_error_kinds"] = dict(counters.call_error_kinds)
    raw["failure_kinds"] = dict(counters.failure_kinds)
    raw["started_wall"] = counters.started_wall
    raw["drops_per_10s"] = {str(at): n for at, n in counters.drops_per_10s.items()}
    raw["booted_per_10s"] = {str(at): n for at, n in counters.booted_per_10s.items()}
    raw["last_error"] = counters.last_error
    raw["ramp_ends_at"] = counters.ramp_ends_at is not None
    raw["round_trips"] = {a: h.as_json() for a, h in counters.round_trips.items()}
    raw["round_trips_after_ramp"] = {
        a: h.as_json() for a, h in counters.round_trips_after_ramp.items()
    }
    raw["connect_s"] = counters.connect_s.as_json()
    if storm is not None:
        raw["storm"] = {
            "recovered": storm.recovered.as_json(),
            "reconnecting": storm.reconnecting.as_json(),
            "booted_after_s": storm.booted_after_s,
        }
    return raw


def summed_curves(curves: list[dict[int, int]]) -> dict[int, int]:
    """Per 10 s, the sum of every process's count (pure). A process busy for more than 10 s
    skips a step, and one that ended first has none at the end: its last count stands."""
    total: dict[int, int] = {}
    last = [0] * len(curves)
    for at in sorted({at for curve in curves for at in curve}):
        for i, curve in enumerate(curves):
            last[i] = curve.get(at, last[i])
        total[at] = sum(last)
    return total


def merged_counters(raws: list[dict]):
    """The sum of several processes' counters, and their storm if they had one (pure)."""
    from sigecve.simulator.fleet import Storm

    total = SimulationCounters()
    total.booted_per_10s = summed_curves(
        [{int(k): n for k, n in raw.get("booted_per_10s", {}).items()} for raw in raws]
    )
    storm = None
    for raw in raws:
        for f in INT_FIELDS:
            setattr(total, f, getattr(total, f) + raw[f])
        total.call_error_kinds.update(Counter(raw["call_error_kinds"]))
        total.failure_kinds.update(Counter(raw["failure_kinds"]))
        if raw.get("started_wall") is not None:
            total.started_wall = min(total.started_wall or raw["started_wall"], raw["started_wall"])
        total.drops_per_10s.update(Counter({int(k): n for k, n in raw["drops_per_10s"].items()}))
        total.last_error = raw["last_error"] or total.last_error
        if raw["ramp_ends_at"]:
            total.ramp_ends_at = 0.0
        for name in ("round_trips", "round_trips_after_ramp"):
            mine = getattr(total, name)
            for action, h in raw[name].items():
                mine.setdefault(action, LatencyHistogram()).merge(LatencyHistogram.from_json(h))
        total.connect_s.merge(LatencyHistogram.from_json(raw["connect_s"]))
        if "storm" in raw:
            storm = storm or Storm(0.0)
            storm.recovered.merge(LatencyHistogram.from_json(raw["storm"]["recovered"]))
            storm.reconnecting.merge(LatencyHistogram.from_json(raw["storm"]["reconnecting"]))
            storm.booted_after_s.extend(raw["storm"]["booted_after_s"])
    return total, storm


def write_atomically(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def run_in_processes(command: list[str], processes: int, count: int, console: Console) -> dict:
    """Run `command` (`sigecve simulate ...`) as `processes` children; their merged report."""
    from sigecve.simulator.fleet import _progress, fleet_report

    with tempfile.TemporaryDirectory(prefix="sigecve-simulate-") as tmp:
        workdir = Path(tmp)
        children = []
        for i in range(processes):
            child_argv = [
                *command,
                "--part",
                f"{i}/{processes}",
                "--report",
                str(workdir / f"report-{i}.json"),
                "--progress-file",
                str(workdir / f"progress-{i}.json"),
            ]
            children.append(
                subprocess.Popen(
                    child_argv,
                    stdout=subprocess.DEVNULL,
                    stderr=open(workdir / f"stderr-{i}.log", "w"),
                )
            )

        def forward(signum, _frame) -> None:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        started = time.monotonic()
        try:
            with Live(console=console, refresh_per_second=1, auto_refresh=False) as live:
                last_messages, last_at = 0, started
                while any(child.poll() is None for child in children):
                    time.sleep(1.0)
                    raws = []
                    for i in range(processes):
                        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                            raws.append(json.loads((workdir / f"progress-{i}.json").read_text()))
                    if not raws:
                        continue
                    counters, storm = merged_counters(raws)
                    now = time.monotonic()
                    rate = (counters.messages - last_messages) / (now - last_at)
                    last_messages, last_at = counters.messages, now
                    live.update(
                        _progress(counters, count, now - started, rate, storm), refresh=True
                    )
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        reports = []
        for i, child in enumerate(children):
            path = workdir / f"report-{i}.json"
            if child.returncode not in (0, None) or not path.exists():
                stderr = (workdir / f"stderr-{i}.log").read_text()[-2000:]
                raise RuntimeError(
                    f"simulator process {i} ended with {child.returncode}: {stderr.strip()}"
                )
            reports.append(json.loads(path.read_text()))
    counters, storm = merged_counters([r["raw"] for r in reports])
    duration = max(r["duration_s"] for r in reports)
    report = fleet_report(counters, count, duration, storm)
    if storm is not None:
        report["storm"]["not_recovered"] = count - storm.recovered.total
    if any("chargers" in r for r in reports):
        chargers = {}
        for r in reports:
            chargers.update(r.get("chargers", {}))
        report["booted_at_end"] = sum(r.get("booted_at_end", 0) for r in reports)
        report["unacknowledged_at_end"] = sum(r.get("unacknowledged_at_end", 0) for r in reports)
        report["chargers"] = dict(sorted(chargers.items()))
    report["processes"] = processes
    return report
