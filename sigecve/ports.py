"""Ports for the listeners a system starts besides its own (HAProxy's stats and metrics,
Serve's fallback proxy), and for the tests' systems.

A port picked by binding port 0 comes from the kernel's ephemeral range, which every outgoing
connection draws from too: by the time HAProxy binds it (after Ray has started and opened
hundreds of connections) another socket may hold it, and HAProxy exits ("Address already in
use"). These ports come from below the ephemeral range instead, at random so that systems
starting side by side do not pick the same one, and outside the range Ray gives its worker
processes' listeners (10002-19999 by default), which a new actor may bind at any time.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Collection

# Below Linux's ephemeral range (32768-60999), under Ray's worker ports (10002-19999), above
# the ports of common local services (one held already is skipped by the bind check).
LISTEN_RANGE = (5_000, 6_299)  # not 6379 (Ray GCS), 8000 (ours), 8265, 8500 (Ray, Serve)


# Ports this process has handed out: their listeners may not listen yet (a test picks the
# port of a system it has not started), so the bind check alone would hand them out again.
_handed_out: set[int] = set()


def free_listening_port(rng: random.Random | None = None, exclude: Collection[int] = ()) -> int:
    """A port nobody listens on now, on any address, outside the ephemeral range, and neither
    handed out by this process before nor one of `exclude` (picked by another process for a
    listener that does not listen yet)."""
    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randint(*LISTEN_RANGE)
        if port in exclude or port in _handed_out:
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {LISTEN_RANGE[0]} and {LISTEN_RANGE[1]}")
