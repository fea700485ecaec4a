"""Where Python's garbage collector pauses the system under a benchmark (docs/scale.md).

Every Ray worker of the run, Serve's proxy and replicas among them, logs each collection
longer than 50 ms to a file of its own; afterwards the logs are summed per process and
generation, and over time:

    GC_LOG_DIR=/tmp/gc PYTHONPATH=$PWD RAY_RUNTIME_ENV_HOOK=benchmarks.gc_log.runtime_env_hook \\
        python benchmarks/scale.py storm --count 7500 --ramp 120 --settle 60 --after 120
    python benchmarks/gc_log.py /tmp/gc

`RAY_RUNTIME_ENV_HOOK` is Ray's own: `ray.init` in `sigecve up` passes its runtime environment
through it, and this hook adds a `worker_process_setup_hook`; nothing of SIGEC-VE changes.
Times are seconds since `ray.init`.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections import defaultdict
from pathlib import Path

LONG_S = 0.05


def runtime_env_hook(runtime_env: dict | None) -> dict:
    """Called by `ray.init` in the driver: every worker logs its long collections."""
    log_dir = Path(os.environ["GC_LOG_DIR"])
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "started").write_text(f"{time.time()}\n")
    return {**(runtime_env or {}), "worker_process_setup_hook": f"{__name__}.log_long_collections"}


def log_long_collections() -> None:
    """Each worker's setup hook: one line per collection longer than LONG_S."""
    log = Path(os.environ["GC_LOG_DIR"]) / f"{os.getpid()}.log"
    started: list[float] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
            return
        took = time.perf_counter() - started[0] if started else 0.0
        if took > LONG_S:
            # Read now: Ray names the process after what it became, after this hook ran.
            title = Path("/proc/self/cmdline").read_bytes().split(b"\0")[0].decode()
            with log.open("a") as f:
                f.write(f"{time.time():.3f} {info['generation']} {took:.3f} {title}\n")

    gc.callbacks.append(callback)


def ray_worker_name(title: str) -> str:
    """A Ray worker's process title without the method it was running (pure):
    "ray::ProxyActor.receive_asgi_messages" is "ray::ProxyActor"; other titles stay."""
    return title.split()[0].split(".")[0] if title.startswith("ray::") else title


def summarize(log_dir: Path, window_s: float) -> str:
    started = float((log_dir / "started").read_text())
    totals: dict[tuple[str, int], list[float]] = defaultdict(list)
    timeline: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for path in log_dir.glob("*.log"):
        for line in path.read_text().splitlines():
            at, generation, took, title = line.split(" ", 3)
            process = f"{ray_worker_name(title)} ({path.stem})"
            totals[(process, int(generation))].append(float(took))
            timeline[process][int((float(at) - started) // window_s)] += float(took)
    lines = ["process | generation | collections > 50 ms | paused, s | longest, s"]
    for (process, generation), pauses in sorted(totals.items()):
        lines.append(
            f"{process} | {generation} | {len(pauses)} | {sum(pauses):.1f} | {max(pauses):.2f}"
        )
    lines.append(f"\npaused per {window_s:g} s window (seconds since ray.init: paused)")
    for process, windows in sorted(timeline.items()):
        spans = ", ".join(
            f"{int(w * window_s)}: {paused:.1f}" for w, paused in sorted(windows.items())
        )
        lines.append(f"{process}: {spans}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log_dir", type=Path)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per timeline step")
    args = parser.parse_args()
    print(summarize(args.log_dir, args.window))


if __name__ == "__main__":
    main()
