"""How many charge points one node holds, what a reconnection storm costs, and how the whole
stack compares with a plain single-process server (docs/scale.md).

    python benchmarks/scale.py steady --sizes 1000 5000 10000 --seconds 600
    python benchmarks/scale.py storm --count 10000
    python benchmarks/scale.py saturation --clients 100 --seconds 30
    python benchmarks/scale.py sessions --count 2000

Each run starts its own `sigecve up` (embedded PostgreSQL, charge points admitted on first
connection) and `sigecve simulate` with a day's behaviour (`--realistic`: heartbeats every
300 s, meter values every minute while charging, sessions arriving and leaving, a quarter
of the fleet on OCPP 2.0.1), samples the CPU and memory of every process of the system (Ray,
Serve, HAProxy: all descendants of `sigecve up`; and the embedded PostgreSQL's processes,
which pg_ctl leaves to init) and of the simulator, with each component's CPU seconds (over
the run, and in a storm's first minute) and memory, and writes the figures to
benchmarks/results/scale.json (merged with earlier runs);
`python benchmarks/render.py` puts its table and plot in docs/scale.md.
`sessions` needs no system: what starting one charger's OCPP session costs a host actor
(time and memory, per protocol version), the part of a connect that grows with the fleet.
Loopback only; every process it starts is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import timeit
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gc_log import ray_worker_name  # noqa: E402
from benchmarks.load import measure  # noqa: E402
from sigecve.node_environment import raise_open_file_limit  # noqa: E402
from sigecve.ocpp.sessions import SESSION_CLASSES  # noqa: E402
from tests.conftest import RunningSystem, free_port, start_system  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "scale.json"
SAMPLE_EVERY_S = 5.0
STORM_WINDOW_S = 60.0  # the storm target's minute
ID_TAG = "SCALE-TAG"


def component(p: psutil.Process) -> str:
    """What a process of the system is, by the name it runs under: a Ray worker's title
    (`ray::ChargePointHost`, `ray::ServeReplica:ocpp:OcppGateway`), a Python program's script
    or module, else its executable (`raylet`, `haproxy`, `postgres`)."""
    with contextlib.suppress(psutil.Error):
        args = p.cmdline()
        if args and args[0].startswith("ray::"):
            return ray_worker_name(args[0])
        if p.name().startswith("python"):
            rest = iter(args[1:])
            for arg in rest:
                if arg in ("-m", "-c"):
                    return f"python {arg} {next(rest, '')}" if arg == "-m" else "python -c"
                if not arg.startswith("-"):
                    return f"python {Path(arg).name}"
        return p.name()
    return "?"


class ResourceSampler:
    """CPU (cores busy) and memory (PSS, so shared pages count once) of process trees, and
    the CPU time of each tree's components (`component`), over the run and over a window."""

    def __init__(
        self, roots: dict[str, list[int]], window: tuple[float, float] | None = None
    ) -> None:
        self.roots = roots
        self.window = window  # (start, end) in seconds from the sampler's start
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in roots}
        self.cpu_s: dict[str, dict[str, float]] = {name: {} for name in roots}
        self.window_cpu_s: dict[str, dict[str, float]] = {name: {} for name in roots}
        self.memory_gib: dict[str, dict[str, float]] = {name: {} for name in roots}  # max each
        # Cores busy per component in each sample of the window.
        self.window_samples: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ResourceSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(30)

    def _trees(self, pids: list[int]) -> list[psutil.Process]:
        processes = []
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(pid)
                processes += [root, *root.children(recursive=True)]
        return processes

    def _run(self) -> None:
        start = last = time.monotonic()
        while not self._stop.wait(SAMPLE_EVERY_S):
            now = time.monotonic()
            in_window = self.window is not None and (
                self.window[0] <= now - start and last - start <= self.window[1]
            )
            for name, pids in self.roots.items():
                cpu_s, pss = 0.0, 0
                cores: dict[str, float] = {}
                memory: dict[str, int] = {}
                for p in self._trees(pids):
                    with contextlib.suppress(psutil.Error):
                        # Own time only: a child's time is counted in the child (and its
                        # `children_*` jump when an exited child is reaped).
                        t = p.cpu_times()
                        total = t.user + t.system
                        used = total - self._cpu.get(p.pid, total)
                        self._cpu[p.pid] = total
                        cpu_s += used
                        own = p.memory_full_info().pss
                        pss += own
                        kind = component(p)
                        memory[kind] = memory.get(kind, 0) + own
                        self.cpu_s[name][kind] = self.cpu_s[name].get(kind, 0.0) + used
                        if in_window:
                            got = self.window_cpu_s[name].get(kind, 0.0)
                            self.window_cpu_s[name][kind] = got + used
                            cores[kind] = cores.get(kind, 0.0) + used / (now - last)
                self.samples[name].append((cpu_s / (now - last), pss / 2**30))
                for kind, size in memory.items():
                    most = self.memory_gib[name].get(kind, 0.0)
                    self.memory_gib[name][kind] = max(most, size / 2**30)
                if in_window:
                    self.window_samples[name].append(cores)
            last = now

    def summary(self) -> dict[str, dict]:
        out = {}
        for name, samples in self.samples.items():
            steady = samples[1:] or samples  # the first interval has no CPU baseline
            out[name] = {
                "cpu_cores_mean": round(sum(c for c, _ in steady) / max(1, len(steady)), 2),
                "cpu_cores_max": round(max((c for c, _ in steady), default=0), 2),
                "memory_gib_max": round(max((m for _, m in samples), default=0), 2),
                "cpu_s_by_component": by_size(self.cpu_s[name]),
                "memory_gib_max_by_component": {
                    kind: round(gib, 2)
                    for kind, gib in sorted(self.memory_gib[name].items(), key=lambda kv: -kv[1])
                    if gib >= 0.01
                },
            }
            if self.window is not None:
                out[name]["window_s"] = list(self.window)
                out[name]["window_cpu_s_by_component"] = by_size(self.window_cpu_s[name])
                out[name][f"window_cores_every_{SAMPLE_EVERY_S:g}_s"] = {
                    kind: [round(sample.get(kind, 0.0), 2) for sample in self.window_samples[name]]
                    for kind, s in by_size(self.window_cpu_s[name]).items()
                    if s >= 1.0
                }
        return out


def by_size(cpu_s: dict[str, float]) -> dict[str, float]:
    """CPU seconds per component, the largest first, those under 0.1 s left out (pure)."""
    ranked = sorted(cpu_s.items(), key=lambda kv: -kv[1])
    return {kind: round(s, 1) for kind, s in ranked if s >= 0.1}


def system_under_test(var_dir: Path, **env: str) -> RunningSystem:
    """A fresh system that admits any charge point and knows the drivers' id tag."""
    system = start_system(
        var_dir,
        free_port(),
        SIGECVE_AUTO_REGISTER="true",
        SIGECVE_ML_BOOTSTRAP_MODEL="false",
        **env,
    )
    r = httpx.post(
        f"{system.http}/api/v1/id-tags",
        json={"id_tag": ID_TAG},
        headers={"Authorization": f"Bearer {system.admin_token}"},
        timeout=30,
    )
    r.raise_for_status()
    return system


def simulate(system: RunningSystem, count: int, seconds: float, report: Path, *extra: str):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "composition.cli",
            "simulate",
            "--url",
            system.ocpp_url,
            "--count",
            str(count),
            "--realistic",
            "--share-201",
            "0.25",
            "--duration",
            str(seconds),
            "--seed",
            "1",
            "--id-prefix",
            f"SCALE{count}-",
            "--report",
            str(report),
            "--id-tags",
            ID_TAG,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,  # the progress table
        stdin=subprocess.DEVNULL,
    )


def listen_queue_counters() -> dict[str, int]:
    """The kernel's counts, machine-wide, of connections refused because a listening socket's
    accept queue was full (a server too slow to accept; the client retries its SYN)."""
    names, values = (
        line.split()[1:]
        for line in Path("/proc/net/netstat").read_text().splitlines()
        if line.startswith("TcpExt:")
    )
    counters = dict(zip(names, map(int, values), strict=True))
    return {"overflows": counters["ListenOverflows"], "drops": counters["ListenDrops"]}


def simulated_run(
    count: int, seconds: float, *extra: str, window: tuple[float, float] | None = None
) -> dict:
    """A fresh system driven by `count` simulated charge points for `seconds`; the
    simulator's report and the resources both used (also within `window`, seconds from the
    simulator's start)."""
    with tempfile.TemporaryDirectory() as tmp:
        system = system_under_test(Path(tmp) / "var")
        try:
            report = Path(tmp) / "report.json"
            sim = simulate(system, count, seconds, report, *extra)
            # The embedded PostgreSQL is not a descendant of `sigecve up`: its tree is counted
            # beside it.
            roots = {
                "system": [system.process.pid, system.postmaster_pid],
                "simulator": [sim.pid],
            }
            queue_full_before = listen_queue_counters()
            with ResourceSampler(roots, window) as s:
                sim.wait()
            queue_full = {k: v - queue_full_before[k] for k, v in listen_queue_counters().items()}
            result = json.loads(report.read_text())
            return {
                "charge_points": count,
                "simulated": result,
                "resources": s.summary(),
                "listen_queue_full": queue_full,
            }
        finally:
            system.stop()


def steady(count: int, seconds: float, ramp_s: float) -> dict:
    return simulated_run(count, ramp_s + seconds, "--ramp", str(ramp_s))


def storm(count: int, ramp_s: float, settle_s: float, after_s: float) -> dict:
    """The drop and the `STORM_WINDOW_S` after it is the window whose CPU is broken down."""
    storm_at = ramp_s + settle_s
    return simulated_run(
        count,
        storm_at + after_s,
        "--ramp",
        str(ramp_s),
        "--storm-after",
        str(storm_at),
        window=(storm_at, storm_at + STORM_WINDOW_S),
    )


BASELINE_SERVER = """
import asyncio, sys
from datetime import datetime, timezone
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result

class Plain(ChargePoint):
    @on("Heartbeat")
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=datetime.now(timezone.utc).isoformat())

    @on("MeterValues")
    async def on_meter_values(self, **_):
        return call_result.MeterValues()

    @on("StatusNotification")
    async def on_status_notification(self, **_):
        return call_result.StatusNotification()

async def serve(ws):
    await Plain(ws.request.path.rsplit("/", 1)[-1], ws).start()

async def main():
    async with websockets.serve(serve, "127.0.0.1", int(sys.argv[1]), subprotocols=["ocpp1.6"]):
        print("READY", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


def saturation(clients: int, seconds: float) -> dict:
    """Each action back to back from `clients` chargers: through the whole stack (back-pressure
    lifted: it is what is measured), and against the plain server, in the same run. Heartbeats
    are answered from memory by both; meter values and statuses are committed to PostgreSQL
    by SIGEC-VE before their reply, and only parsed by the plain server."""
    actions = ("Heartbeat", "MeterValues", "StatusNotification")
    results: dict = {action: {} for action in actions}
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BASELINE_SERVER)
    plain = subprocess.Popen([sys.executable, f.name, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert plain.stdout is not None
        plain.stdout.readline()
        for action in actions:
            results[action]["plain_server"] = asyncio.run(
                measure(f"ws://127.0.0.1:{port}/ocpp", clients, seconds, "PLAIN-", action)
            )
    finally:
        plain.send_signal(signal.SIGTERM)
        plain.wait(30)
        os.unlink(f.name)
    with tempfile.TemporaryDirectory() as tmp:
        system = system_under_test(
            Path(tmp) / "var", SIGECVE_OCPP_RATE_PER_S="1000000", SIGECVE_OCPP_BURST="1000000"
        )
        try:
            for action in actions:
                results[action]["sigecve"] = asyncio.run(
                    measure(system.ocpp_url, clients, seconds, "SAT-", action)
                )
        finally:
            system.stop()
    for action in actions:
        both = results[action]
        both["ratio"] = round(
            both["sigecve"]["calls_per_s"] / both["plain_server"]["calls_per_s"], 3
        )
    return results


def session_cost(count: int) -> dict:
    """Per OCPP version: microseconds to start a session, and the memory `count` sessions
    hold (tracemalloc), per session."""
    results = {}
    for protocol, session_class in SESSION_CLASSES.items():
        start = functools.partial(
            session_class,
            "CP",
            None,
            None,
            commits=None,
            heartbeats=None,
            heartbeat_interval_s=300,
            response_timeout_s=30,
        )
        results[protocol] = {
            "start_us": round(timeit.timeit(start, number=count) / count * 1e6, 1),
            "memory_kib": round(asyncio.run(_memory_held(start, count)) / count / 1024, 2),
        }
    return {"sessions": count, "per_session": results}


async def _memory_held(start: Callable[[], object], count: int) -> int:
    """Bytes `count` objects from `start()` hold (in a running loop: a session's queue and
    lock want one)."""
    tracemalloc.start()
    held = [start() for _ in range(count)]
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held
    return size


# Settings of `sigecve up` that change what is measured, read from the environment the run
# passes on: a run under any of them is recorded apart from the default's, its command
# prefixed with them.
VARIANT_SETTINGS = (
    "RAY_SERVE_ENABLE_HA_PROXY",
    "SIGECVE_GATEWAY_REPLICAS",
    # benchmarks/gc_log.py: Ray's hook, where the logs go, and the path its workers import from
    "RAY_RUNTIME_ENV_HOOK",
    "GC_LOG_DIR",
)


def variant(environ: dict[str, str]) -> tuple[str, str]:
    """The name a run's results are kept under beside the default's ("" for the default),
    and the environment to put before its command (pure)."""
    names = []
    if environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "0":
        names.append("python_proxy")
    if environ.get("SIGECVE_GATEWAY_REPLICAS", "1") != "1":
        names.append(f"{environ['SIGECVE_GATEWAY_REPLICAS']}_gateway_replicas")
    if "RAY_RUNTIME_ENV_HOOK" in environ:
        names.append("runtime_env_hook")
    shown = [*VARIANT_SETTINGS, *(["PYTHONPATH"] if "RAY_RUNTIME_ENV_HOOK" in environ else [])]
    prefix = " ".join(f"{n}={environ[n]}" for n in shown if n in environ)
    return "_".join(names), prefix


def save(kind: str, result: dict, command: list[str]) -> None:
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    name, prefix = variant(dict(os.environ))
    key = f"{kind}_{name}" if name else kind
    entry = {
        "command": " ".join(filter(None, [prefix, "python", "benchmarks/scale.py", *command])),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **result,
    }
    if kind == "steady":
        runs = [r for r in data.get(key, []) if r["charge_points"] != result["charge_points"]]
        data[key] = sorted([*runs, entry], key=lambda r: r["charge_points"])
    else:
        data[key] = entry
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="kind", required=True)
    st = sub.add_parser("steady")
    st.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    st.add_argument("--seconds", type=float, default=600)
    st.add_argument("--ramp", type=float, default=120, help="seconds to connect them all")
    sm = sub.add_parser("storm")
    sm.add_argument("--count", type=int, default=10000)
    sm.add_argument("--ramp", type=float, default=120)
    sm.add_argument("--settle", type=float, default=60, help="seconds of steady state first")
    sm.add_argument("--after", type=float, default=120, help="seconds measured after the drop")
    sa = sub.add_parser("saturation")
    sa.add_argument("--clients", type=int, default=100)
    sa.add_argument("--seconds", type=float, default=30)
    se = sub.add_parser("sessions")
    se.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    if args.kind == "sessions":
        result = session_cost(args.count)
        save("sessions", result, sys.argv[1:])
        print(json.dumps(result))
        return
    files = raise_open_file_limit()
    print(f"open files allowed: {files}", file=sys.stderr)
    if args.kind == "steady":
        for size in args.sizes:
            result = steady(size, args.seconds, args.ramp)
            save("steady", result, sys.argv[1:])
            print(json.dumps(result), flush=True)
    elif args.kind == "storm":
        result = storm(args.count, args.ramp, args.settle, args.after)
        save("storm", result, sys.argv[1:])
        print(json.dumps(result))
    else:
        result = saturation(args.clients, args.seconds)
        save("saturation", result, sys.argv[1:])
        print(json.dumps(result))


if __name__ == "__main__":
    main()
