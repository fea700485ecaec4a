"""Serve's default Python proxy against HAProxy (RAY_SERVE_ENABLE_HA_PROXY=1) for OCPP WebSockets.

Two targets, each under both proxies, in one run on one machine:
- `echo`: a bare Serve WebSocket deployment answering every frame at once: the ingress alone;
- `sigecve`: a full `sigecve up` (gateway, charge-point host actors, PostgreSQL): every
  Heartbeat is handled by the charge point's actor and committed before the reply.

Usage: python benchmarks/ingress_proxy.py [--clients 50] [--seconds 15] [--out docs/...json]
Loopback only; every process it starts is stopped by its PID before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from tests.conftest import free_port, start_system  # noqa: E402

ECHO_APP = """
import signal, sys
import ray
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from ray import serve

app = FastAPI()

@serve.deployment(max_ongoing_requests=20000)
@serve.ingress(app)
class Echo:
    @app.websocket("/{cp_id}")
    async def ws(self, websocket: WebSocket, cp_id: str):
        await websocket.accept(subprotocol="ocpp1.6")
        try:
            while True:
                frame = await websocket.receive_text()
                uid = frame.split(",", 2)[1]
                await websocket.send_text(f"[3,{uid},{{}}]")
        except WebSocketDisconnect:
            pass

ray.init(include_dashboard=False, log_to_driver=False)
serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[1])})
serve.run(Echo.bind(), name="echo", route_prefix="/ocpp")
print("READY", flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
serve.shutdown()
ray.shutdown()
"""


def proxy_env(haproxy: bool) -> dict[str, str]:
    env = {"RAY_SERVE_ENABLE_HA_PROXY": "1" if haproxy else "0"}
    if haproxy:
        env["RAY_SERVE_HAPROXY_STATS_PORT"] = str(free_port())
        env["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(free_port())
    return env


def run_load(url: str, clients: int, seconds: float) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "load.py"),
            "--url",
            url,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_echo(haproxy: bool, clients: int, seconds: float) -> dict:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(ECHO_APP)
    env = {**os.environ, **proxy_env(haproxy)}
    env["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"] = "2"
    proc = subprocess.Popen(
        [sys.executable, f.name, str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY"):
                break
        return run_load(f"ws://127.0.0.1:{port}/ocpp", clients, seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.unlink(f.name)


def bench_sigecve(haproxy: bool, clients: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        system = start_system(
            Path(tmp) / "var", free_port(), SIGECVE_AUTO_REGISTER="true", **proxy_env(haproxy)
        )
        try:
            httpx.get(f"{system.http}/api/v1/health", timeout=30).raise_for_status()
            return run_load(system.ocpp_url, clients, seconds)
        finally:
            system.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingress.json"
    )
    args = parser.parse_args()
    results = []
    for target, bench in (("echo", bench_echo), ("sigecve", bench_sigecve)):
        for haproxy in (False, True):
            proxy = "haproxy" if haproxy else "python"
            print(
                f"{target} through the {proxy} proxy: {args.clients} clients, "
                f"{args.seconds:g} s ...",
                file=sys.stderr,
                flush=True,
            )
            r = bench(haproxy, args.clients, args.seconds)
            r.update(target=target, proxy=proxy)
            results.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
            time.sleep(2)  # let the previous cluster's processes exit before the next starts
    write_report(
        args.out,
        f"python benchmarks/ingress_proxy.py --clients {args.clients} --seconds {args.seconds:g}",
        results,
    )
    print("| target | proxy | calls/s | p50 ms | p95 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['target']} | {r['proxy']} | {r['calls_per_s']:.0f} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
