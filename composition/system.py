"""`sigecve up`: the database, the Ray cluster, the actors, the Serve applications, the demo fleet.

Everything started here is stopped here, in reverse order, on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time

import httpx
import psutil
import psycopg
import ray
from ray import serve

from actors.charge_point_host import start_charge_point_hosts
from actors.database_supervisor import start_database_supervisor
from actors.failure_scorer import start_scorers
from actors.failure_scorer import stop_all as stop_failure_scorers
from actors.grid_scheduler import SchedulerDirectory
from actors.grid_scheduler import stop_all as stop_grid_schedulers
from composition.applications import run_all
from composition.commands import CLI
from sigecve.bootstrap import (
    DEMO_ID_TAGS,
    DEMO_PREFIX,
    DEMO_SHARE_21,
    DEMO_SHARE_201,
    bootstrap_database,
    register_demo_fleet,
)
from sigecve.db.embedded import EmbeddedPostgres
from sigecve.node_environment import (
    ingress_environment,
    raise_open_file_limit,
    serve_environment,
)
from sigecve.settings import Settings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0


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
        self.supervisor = start_database_supervisor(self.embedded)

    def _start_hosts(self) -> None:
        # The handles keep the (non-detached) actors alive.
        self.hosts = start_charge_point_hosts(self.settings, self.database_url)

    def _start_grid_schedulers(self) -> None:
        with psycopg.connect(self.database_url) as conn:
            site_ids = [r[0] for r in conn.execute("SELECT id FROM sites")]
        directory = SchedulerDirectory(self.settings, self.database_url)

        async def ensure_all() -> None:
            await asyncio.gather(*(directory.ensure(site_id) for site_id in site_ids))

        asyncio.run(ensure_all())

    def _start_failure_scorers(self) -> None:
        # The handles keep the (non-detached) actors alive.
        self.scorers = start_scorers(self.settings, self.database_url)

    def _start_serve(self) -> None:
        http_options: dict = {"host": self.settings.host, "port": self.settings.port}
        if self.settings.tls:
            http_options.update(
                ssl_certfile=str(self.settings.tls_certfile.resolve()),
                ssl_keyfile=str(self.settings.tls_keyfile.resolve()),
            )
        serve.start(http_options=http_options, proxy_location=self.settings.proxy_location)
        run_all(self.settings, self.database_url)

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
                *CLI,
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
                "--share-21",
                str(DEMO_SHARE_21),
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
        if self._ray_started and _ray_processes_gone():
            # Stopped with the whole process group: with Ray's processes gone every Ray call
            # waits out its timeout and the driver aborts after 60 s without GCS, leaving the
            # database running. Nothing on Ray can write any more: the database stops now.
            self.supervisor = None
            self.hosts = []
            _stop_orphaned_ingress()
            ray.shutdown()
            self._ray_started = False
        if self._ray_started:
            if self.supervisor is not None:  # first: the database's stop is not a crash
                with contextlib.suppress(Exception):
                    ray.get(self.supervisor.stop.remote(), timeout=10)
                    ray.kill(self.supervisor)
                self.supervisor = None
            with contextlib.suppress(Exception):
                serve.shutdown()
            stop_grid_schedulers()
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


def _ray_processes_gone(wait_s: float = 2.0) -> bool:
    """Whether the Ray processes this driver started (GCS, raylet, ...) were stopped with it:
    they share its process group, so a signal to the group (Ctrl-C, systemd's stop) reaches
    them too and they die within moments. False when it started none (it joined a cluster).
    Ray has no public call for this."""
    node = getattr(ray._private.worker, "_global_node", None)
    if node is None:
        return False
    pids = [i.process.pid for infos in node.all_processes.values() for i in infos if i.process]
    if not any(_in_our_group(pid) for pid in pids):
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not node.remaining_processes_alive():
            return True
        time.sleep(0.1)
    return False


def _stop_orphaned_ingress() -> None:
    """Serve's HAProxy runs in a session of its own, so the group's signal misses it, and
    the proxy actor that would stop it is gone: stop it by its config, named after the node."""
    node = getattr(ray._private.worker, "_global_node", None)
    node_id = getattr(node, "node_id", None)
    if not node_id:
        return
    for p in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "haproxy" in (p.info["name"] or "") and any(
                node_id in arg for arg in p.info["cmdline"] or []
            ):
                p.terminate()


def _in_our_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == os.getpgrp()
    except ProcessLookupError:
        return True  # gone already: it was


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
