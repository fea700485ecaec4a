"""`sigecve up`: the database, the Ray cluster, the actors, the Serve applications, the demo fleet.

Everything started here is stopped here, in reverse order, on SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psycopg

from sigecve.db.embedded import EmbeddedPostgres
from sigecve.db.migrate import apply_migrations
from sigecve.domain import IdTagStatus
from sigecve.ports import free_listening_port
from sigecve.security import hash_api_token, hash_password, new_api_token
from sigecve.settings import Settings
from sigecve.simulator.fleet import charge_point_ids

log = logging.getLogger(__name__)

DEMO_PREFIX = "DEMO-"
DEMO_ID_TAGS = ("DEMO-TAG",)
DEMO_SHARE_201 = 0.25  # a quarter of the demo fleet speaks OCPP 2.0.1
DEMO_SITE_KW_PER_CP = 7.4
READY_TIMEOUT_S = 180.0
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
    # A gateway replica HAProxy marks down sends its chargers to Serve's Python fallback proxy,
    # several times slower. A fleet reconnecting at once fills the replica's accept queue, and
    # HAProxy's health checks wait in that queue behind the chargers: checked every 5 s, the
    # replica was marked down within 10 s (also 30 s) of a storm, and every handshake then
    # timed out in the fallback; a storm of 7,500 never recovered. So HAProxy does not mark
    # replicas down: Serve's controller health-checks them and replaces a dead one, and a
    # charger whose replica died reconnects.
    # Replicas otherwise stay reachable 30 s on shutdown for external load balancers;
    # HAProxy is ours and stops with them (the draining period).
    # Each change of Serve's backends (a replica moved, a node lost or back) reloads every
    # node's HAProxy; the old process keeps its WebSockets only until its hard stop (120 s
    # by default), so every charger of the cluster reconnected two minutes after each
    # change. A day lets them stay; an old process ends when its last connection does. The
    # freed replica ports' quarantine follows the hard stop unless set: WebSockets keep
    # their replica, so ten minutes covers the old processes' HTTP keep-alives.
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


def _read_or_create_secret(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def bootstrap_database(settings: Settings, database_url: str, *, cold_start: bool = True) -> str:
    """Migrate, install the admin token; return it. On a cold start nobody is connected yet."""
    apply_migrations(database_url)
    token = settings.admin_token or _read_or_create_secret(
        settings.var_dir / "admin_token", new_api_token
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO api_tokens (name, token_hash, role)
               VALUES ('bootstrap admin', %s, 'admin') ON CONFLICT (token_hash) DO NOTHING""",
            (hash_api_token(token),),
        )
        if cold_start:
            conn.execute("UPDATE charge_points SET connected = false WHERE connected")
    return token


def register_demo_fleet(settings: Settings, database_url: str) -> str:
    """Register the demo charge points and id tags once; return the password template."""
    secret = _read_or_create_secret(settings.var_dir / "demo_secret", lambda: secrets.token_hex(8))
    template = f"demo-{secret}-{{id}}"
    ids = charge_point_ids(DEMO_PREFIX, settings.demo_cps)
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A grid limit below the fleet's total power, so that smart charging has work to do.
        conn.execute(
            """INSERT INTO sites (id, name, max_power_kw) VALUES ('DEMO', 'Demo car park', %s)
               ON CONFLICT (id) DO NOTHING""",
            (round(DEMO_SITE_KW_PER_CP * max(1, settings.demo_cps), 1),),
        )
        known = {
            r[0] for r in conn.execute("SELECT id FROM charge_points WHERE id = ANY(%s)", (ids,))
        }
        for cp_id in ids:
            if cp_id not in known:
                conn.execute(
                    """INSERT INTO charge_points (id, password_hash, site_id)
                       VALUES (%s, %s, 'DEMO')""",
                    (cp_id, hash_password(template.format(id=cp_id))),
                )
        for tag in DEMO_ID_TAGS:
            conn.execute(
                "INSERT INTO id_tags (id_tag, status) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (tag, IdTagStatus.accepted.value),
            )
    return template


class System:
    """One running SIGEC-VE: start() brings everything up, stop() takes it all down."""

    def __init__(self, settings: Settings, after_ray_init=None) -> None:
        self.settings = settings
        # ray.init installs its own SIGTERM handler; the caller's must go back on after it.
        self._after_ray_init = after_ray_init
        self.embedded: EmbeddedPostgres | None = None
        self.database_url: str | None = None
        self.admin_token: str | None = None
        self.hosts: list = []
        self.scorers: list = []
        self.simulator: subprocess.Popen | None = None
        self.supervisor = None  # the embedded database's (actors.database_supervisor)
        self._ray_started = False

    def start(self) -> None:
        s = self.settings
        s.var_dir.mkdir(parents=True, exist_ok=True)
        if s.database_url:
            self.database_url = s.database_url
        else:
            self.embedded = EmbeddedPostgres(s.var_dir / "pg", s.db_listen_address)
            self.database_url = self.embedded.start()
            # Where `sigecve ml export|deploy` find the embedded database (owner-only).
            url_file = s.var_dir / "database_url"
            url_file.unlink(missing_ok=True)
            fd = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.database_url + "\n")
        self.admin_token = bootstrap_database(s, self.database_url)
        demo_template = register_demo_fleet(s, self.database_url) if s.demo_cps else None

        self._start_ray()
        self._supervise_database()
        self._start_hosts()
        self._start_grid_schedulers()
        self._start_failure_scorers()
        self._start_serve()
        self._wait_until_healthy()
        if demo_template is not None:
            self._start_demo_fleet(demo_template)

    def _start_ray(self) -> None:
        import ray

        # HAProxy ingress: ~8x the WebSocket throughput of the Python proxy (docs/ingress.md).
        # Serve's HAProxy configuration does not terminate TLS, so with TLS (security
        # profile 2) the Python proxy serves, with Serve's uvicorn doing the TLS.
        if self.settings.tls:
            if os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "1":
                raise RuntimeError(
                    "TLS needs Serve's Python proxy: unset RAY_SERVE_ENABLE_HA_PROXY, or "
                    "terminate TLS in front of SIGEC-VE (docs/security.md)"
                )
            os.environ["RAY_SERVE_ENABLE_HA_PROXY"] = "0"
        os.environ.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "1")
        raise_open_file_limit()
        os.environ.update(serve_environment(os.environ))
        if os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "1":
            os.environ.update(ingress_environment(os.environ))
        ray.init(
            # Unset: a Ray of our own. Ray would otherwise join the last cluster `ray start`
            # ran on this machine, and wait forever if it has died since.
            address=self.settings.ray_address or "local",
            namespace="sigecve",
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
        self._ray_started = True
        if self._after_ray_init is not None:
            self._after_ray_init()

    def _supervise_database(self) -> None:
        if self.embedded is None:
            return  # an external database is its operator's to keep running
        from actors.database_supervisor import start_database_supervisor

        self.supervisor = start_database_supervisor(self.embedded)

    def _start_hosts(self) -> None:
        from actors.charge_point_host import start_charge_point_hosts

        # The handles keep the (non-detached) actors alive.
        self.hosts = start_charge_point_hosts(self.settings, self.database_url)

    def _start_grid_schedulers(self) -> None:
        import asyncio

        from actors.grid_scheduler import SchedulerDirectory

        with psycopg.connect(self.database_url) as conn:
            site_ids = [r[0] for r in conn.execute("SELECT id FROM sites")]
        directory = SchedulerDirectory(self.settings, self.database_url)

        async def ensure_all() -> None:
            await asyncio.gather(*(directory.ensure(site_id) for site_id in site_ids))

        asyncio.run(ensure_all())

    def _start_failure_scorers(self) -> None:
        from actors.failure_scorer import start_scorers

        # The handles keep the (non-detached) actors alive.
        self.scorers = start_scorers(self.settings, self.database_url)

    def _start_serve(self) -> None:
        from ray import serve

        from serve_deployments.dashboard import Dashboard
        from serve_deployments.mcp_server import McpServer
        from serve_deployments.ocpp_gateway import gateway_deployment
        from serve_deployments.rest_api import RestApi

        http_options: dict = {"host": self.settings.host, "port": self.settings.port}
        if self.settings.tls:
            http_options.update(
                ssl_certfile=str(self.settings.tls_certfile.resolve()),
                ssl_keyfile=str(self.settings.tls_keyfile.resolve()),
            )
        serve.start(http_options=http_options, proxy_location=self.settings.proxy_location)
        serve.run(
            gateway_deployment(self.settings).bind(self.settings),
            name="ocpp",
            route_prefix="/ocpp",
            blocking=False,
        )
        serve.run(
            RestApi.bind(self.settings, self.database_url),
            name="api",
            route_prefix="/api/v1",
            blocking=False,
        )
        serve.run(
            McpServer.bind(self.settings, self.database_url),
            name="mcp",
            route_prefix="/mcp",
            blocking=False,
        )
        serve.run(Dashboard.bind(), name="dashboard", route_prefix="/", blocking=False)

    def _wait_until_healthy(self) -> None:
        url = f"{self.settings.public_http_url}/api/v1/health"
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                # Our own endpoint on our own certificate, which may be self-signed.
                r = httpx.get(url, timeout=5, verify=False)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.5)
        raise RuntimeError(f"SIGEC-VE did not become healthy in {READY_TIMEOUT_S:.0f} s: {last}")

    def _start_demo_fleet(self, password_template: str) -> None:
        log_path = self.settings.var_dir / "demo-fleet.log"
        self.simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigecve.cli",
                "simulate",
                "--url",
                self.settings.public_ws_url,
                "--count",
                str(self.settings.demo_cps),
                "--id-prefix",
                DEMO_PREFIX,
                "--password-template",
                password_template,
                "--id-tags",
                ",".join(DEMO_ID_TAGS),
                "--share-201",
                str(DEMO_SHARE_201),
                *(
                    ["--ca-file", str(self.settings.tls_certfile.resolve())]
                    if self.settings.tls
                    else []
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("ab"),
            stdin=subprocess.DEVNULL,
        )

    def ready_line(self) -> str:
        s = self.settings
        return (
            f"SIGEC-VE ready  ocpp={s.public_ws_url}/{{charge_point_id}}  "
            f"api={s.public_http_url}/api/v1  docs={s.public_http_url}/api/v1/docs  "
            f"mcp={s.public_http_url}/mcp  dashboard={s.public_http_url}/  "
            f"admin_token={self.admin_token}  demo_cps={s.demo_cps}"
        )

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.terminate()
            try:
                self.simulator.wait(10)
            except subprocess.TimeoutExpired:
                self.simulator.kill()
            self.simulator = None
        if self._ray_started:
            import ray
            from ray import serve

            if self.supervisor is not None:  # first: the database's stop is not a crash
                with contextlib.suppress(Exception):
                    ray.get(self.supervisor.stop.remote(), timeout=10)
                    ray.kill(self.supervisor)
                self.supervisor = None
            with contextlib.suppress(Exception):
                serve.shutdown()
            from actors.grid_scheduler import stop_all as stop_grid_schedulers

            stop_grid_schedulers()
            from actors.failure_scorer import stop_all as stop_failure_scorers

            stop_failure_scorers()
            with contextlib.suppress(Exception):
                ray.get([h.stop.remote() for h in self.hosts], timeout=10)
            for h in self.hosts:
                with contextlib.suppress(Exception):
                    ray.kill(h)
            ray.shutdown()
            self._ray_started = False
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def run_until_signalled(settings: Settings) -> int:
    """`sigecve up`: start, print the ready line, stop cleanly on SIGINT/SIGTERM."""
    stop_requested = threading.Event()

    def request_stop(signum, _frame):
        stop_requested.set()

    def install_handlers() -> None:
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    install_handlers()
    system = System(settings, after_ray_init=install_handlers)
    try:
        system.start()
        if stop_requested.is_set():
            return 0
        print(system.ready_line(), flush=True)
        stop_requested.wait()
        print("SIGEC-VE stopping", flush=True)
        return 0
    finally:
        system.stop()
        print("SIGEC-VE stopped", flush=True)
