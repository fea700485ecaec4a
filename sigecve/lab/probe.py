"""HTTP from inside the lab's network: `sigecve lab` runs this in the chargers' namespace,
the only place the lab's addresses are reachable from.

    python -m sigecve.lab.probe wait TIMEOUT URL...      every URL answers 2xx, or exit 1
    python -m sigecve.lab.probe call METHOD URL [BODY]   the answer as JSON on stdout
    python -m sigecve.lab.probe watch TIMEOUT URL        GET every 0.2 s until a 5xx has
        come and gone (or TIMEOUT): each answer's status and time as JSON lines

`call` sends `Authorization: Bearer $SIGECVE_TOKEN` when that is set.
"""

from __future__ import annotations

import json
import os
import sys
import time

import httpx


def wait(timeout_s: float, urls: list[str]) -> int:
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    last: dict[str, str] = {}
    with httpx.Client(timeout=5) as client:
        while pending and time.monotonic() < deadline:
            for url in list(pending):
                try:
                    r = client.get(url)
                    if r.is_success:
                        pending.remove(url)
                    else:
                        last[url] = f"HTTP {r.status_code} {r.text[:200]}"
                except httpx.HTTPError as e:
                    last[url] = repr(e)
            if pending:
                time.sleep(0.5)
    for url in pending:
        print(f"{url}: {last.get(url, 'no answer')}", file=sys.stderr)
    return 1 if pending else 0


def call(method: str, url: str, body: str | None) -> int:
    token = os.environ.get("SIGECVE_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(
            method, url, headers=headers, json=json.loads(body) if body else None, timeout=30
        )
    except httpx.HTTPError as e:
        print(json.dumps({"status": None, "error": repr(e)}))
        return 1
    try:
        payload = r.json()
    except ValueError:
        payload = r.text
    print(json.dumps({"status": r.status_code, "body": payload}))
    return 0


def watch(timeout_s: float, url: str) -> int:
    """How an endpoint answers through an outage: each answer's status and how long it took,
    until it has answered 5xx and then 2xx again. Exit 1 if that did not happen in time."""
    deadline = time.monotonic() + timeout_s
    seen_failure = False
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                status: int | None = client.get(url).status_code
            except httpx.HTTPError:
                status = None
            took = time.monotonic() - began
            print(json.dumps({"status": status, "took_s": round(took, 3)}), flush=True)
            if status is None or status >= 500:
                seen_failure = True
            elif seen_failure and status < 300:
                return 0
            time.sleep(0.2)
    return 1


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "wait":
        return wait(float(argv[1]), argv[2:])
    if len(argv) == 3 and argv[0] == "watch":
        return watch(float(argv[1]), argv[2])
    if len(argv) in (3, 4) and argv[0] == "call":
        return call(argv[1], argv[2], argv[3] if len(argv) == 4 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
