"""The environment a Ray node runs SIGEC-VE's Serve applications with.

Serve's actors read their settings from the environment of the Ray node they run on, so
`sigecve up`, the lab's nodes and the tests' clusters all set these before Ray starts.
"""

from __future__ import annotations

import resource
import socket
from collections.abc import Mapping

from sigecve.ports import free_listening_port

OPEN_FILES_WANTED = 65_536


def _free_port_block(first: int = 20_000, last: int = 32_000, size: int = 600) -> int:
    """The first block of ports whose opening ports nobody holds.

    Serve's direct-ingress replicas listen with SO_REUSEPORT on ports counted up from a fixed
    base (30000): two systems on one host would share replica ports and answer each other's
    requests. Each system takes its own block instead.
    """
    for base in range(first, last, size):
        try:
            for port in range(base, base + 8):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no free block of {size} ports between {first} and {last}")


def _lacking(environ: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """The defaults whose names the environment does not set (an operator's own value wins)."""
    return {name: value for name, value in defaults.items() if name not in environ}


def ingress_environment(environ: Mapping[str, str], block_from: int = 20_000) -> dict[str, str]:
    """The HAProxy ingress's settings a Ray node's environment lacks: its own side ports and
    replica port block, so that two systems (or two nodes) can run on one machine. Serve's
    actors read them from the environment of the Ray node they run on."""
    env: dict[str, str] = {}
    # Kept off the ingress's own port, which may not listen yet either.
    ingress = {int(environ["SIGECVE_PORT"])} if environ.get("SIGECVE_PORT") else set()
    for name in (
        "RAY_SERVE_HAPROXY_STATS_PORT",
        "RAY_SERVE_HAPROXY_METRICS_PORT",
        # Serve's fallback proxy behind HAProxy would otherwise take port 8500.
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
    ):
        if name not in environ:
            env[name] = str(free_listening_port(exclude=ingress))
    if "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT" not in environ:
        base = _free_port_block(first=block_from)
        env["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"] = str(base)
        env["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"] = str(base + 299)
        env["RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT"] = str(base + 300)
        env["RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT"] = str(base + 599)
    env.update(ingress_behaviour({**environ, **env}))
    return env


def ingress_behaviour(environ: Mapping[str, str]) -> dict[str, str]:
    """How the HAProxy ingress should treat a fleet of chargers, where the environment does
    not say: on every Ray node, alone on its machine or not."""
    env: dict[str, str] = {}
    # Serve's HAProxy takes 4,096 connections by default; each charger holds one. HAProxy
    # wants 2.5 descriptors per connection (charger side, replica side, a quarter for pipes)
    # and refuses to start past the open-file limit.
    if "RAY_SERVE_HAPROXY_MAXCONN" not in environ:
        files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        env["RAY_SERVE_HAPROXY_MAXCONN"] = str(max(4_096, int((files - 256) / 2.5)))
    # For a fleet of long-lived WebSockets: replicas never marked down by HAProxy (Serve
    # replaces dead ones), and a reload's old process keeps its connections for a day
    # (docs/adr/0002-haproxy-ingress.md says what each default cost).
    env.update(
        _lacking(
            environ,
            {
                "RAY_SERVE_HAPROXY_OBSERVE_MARK_DOWN_ENABLED": "0",
                "RAY_SERVE_HAPROXY_HEALTH_CHECK_FALL": "1000000",
                "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
                "RAY_SERVE_HAPROXY_HARD_STOP_AFTER_S": "86400",
                "RAY_SERVE_PORT_QUARANTINE_S": "600",
            },
        )
    )
    return env


def serve_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Serve's settings for its replicas and proxies the environment lacks. By default Serve
    runs a replica's own code on an event loop in a thread of its own, and a proxy's router
    on another, so every WebSocket message crosses threads: a charger's frames in the gateway
    replica, all of them in the Python proxy. Our replicas never block their loop (psycopg's
    async pool, scrypt in a thread), so they share Serve's (docs/scale.md)."""
    return _lacking(
        environ,
        {
            "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
            "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
        },
    )


def raise_open_file_limit(wanted: int = OPEN_FILES_WANTED) -> int:
    """Up to `wanted` open files for this process and everything it starts (each charger is
    a socket in HAProxy twice and in a gateway replica once); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        try:  # as root, the hard limit can rise too
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
