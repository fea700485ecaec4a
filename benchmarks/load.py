"""A lean OCPP-J load generator: N WebSocket clients sending one action back to back:
Heartbeat (answered from memory), MeterValues or StatusNotification (stored before they are
answered; a reconnecting fleet's commonest message).

Raw frames instead of the `ocpp` client so that the generator, which shares the machine with
the system under test, spends as little CPU as possible per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import websockets

# The payload of each action a client can send, as JSON text.
PAYLOADS = {
    "Heartbeat": "{}",
    "MeterValues": json.dumps(
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": "2026-11-25T10:00:00Z",
                    "sampledValue": [
                        {"value": "1234.5", "measurand": "Energy.Active.Import.Register"},
                        {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        }
    ),
    "StatusNotification": json.dumps(
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    ),
}


async def run_client(
    url: str, cp_id: str, action: str, seconds: float, latencies: list[float], errors: list[str]
) -> None:
    try:
        async with websockets.connect(
            f"{url}/{cp_id}", subprotocols=["ocpp1.6"], open_timeout=60
        ) as ws:
            end = time.monotonic() + seconds
            payload = PAYLOADS[action]
            n = 0
            while time.monotonic() < end:
                n += 1
                t0 = time.perf_counter()
                await ws.send(f'[2,"{n}","{action}",{payload}]')
                reply = await ws.recv()
                latencies.append(time.perf_counter() - t0)
                if not reply.startswith("[3"):
                    errors.append(reply[:200])
    except Exception as e:  # reported, not raised: one failing client must not hide the rest
        errors.append(f"{cp_id}: {type(e).__name__}: {e}")


async def measure(
    url: str | list[str], clients: int, seconds: float, prefix: str, action: str = "Heartbeat"
) -> dict:
    """Calls/s and round trips of `clients` closed-loop clients; with several URLs the clients
    take them in turn (a cluster's ingresses)."""
    urls = [url] if isinstance(url, str) else url
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    await asyncio.gather(
        *(
            run_client(urls[i % len(urls)], f"{prefix}{i:04d}", action, seconds, latencies, errors)
            for i in range(clients)
        )
    )
    elapsed = time.monotonic() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "action": action,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "calls": len(latencies),
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="an OCPP endpoint, or a comma list of them")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--prefix", default="BENCH-")
    parser.add_argument("--action", choices=sorted(PAYLOADS), default="Heartbeat")
    args = parser.parse_args()
    result = measure(args.url.split(","), args.clients, args.seconds, args.prefix, args.action)
    print(json.dumps(asyncio.run(result)))


if __name__ == "__main__":
    main()
