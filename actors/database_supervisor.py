"""The embedded PostgreSQL's supervisor: starts it again whenever it dies, and tells health.

It runs on the node whose disk holds the database (hard node affinity): `pg_ctl` there is
the only way to start it. `sigecve up` starts the server itself, then this actor; stopping,
it stops this actor first, so a shutdown is not taken for a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from sigecve.db.embedded import EmbeddedPostgres
from sigecve.db.supervision import CHECK_EVERY_S, Supervision
from sigecve.placement import RAY_NAMESPACE

log = logging.getLogger(__name__)

NAME = "database-supervisor"


# Restarted by Ray if its process dies; it picks up watching where the last one was.
@ray.remote(num_cpus=0, max_restarts=-1)
class DatabaseSupervisor:
    def __init__(
        self,
        pgdata: str,
        listen_address: str | None,
        socket_dir: str,
        system_user: str | None,
    ) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        self._server = EmbeddedPostgres.attached(
            Path(pgdata), listen_address, Path(socket_dir), system_user
        )
        self._supervision = Supervision()
        # An async actor's constructor runs on its event loop.
        self._watch = asyncio.get_running_loop().create_task(self._watch_forever())

    async def _watch_forever(self) -> None:
        while True:
            running = await asyncio.to_thread(self._server.is_running)
            if self._supervision.should_start(running, time.monotonic()):
                log.warning("embedded PostgreSQL is not running: starting it again")
                try:
                    await asyncio.to_thread(self._server.start_again)
                except Exception as e:
                    delay = self._supervision.start_failed(
                        f"{type(e).__name__}: {e}"[:300], time.monotonic()
                    )
                    log.error("starting PostgreSQL failed (%s); next attempt in %.1f s", e, delay)
                else:
                    self._supervision.started()
            await asyncio.sleep(CHECK_EVERY_S)

    def status(self) -> dict:
        return self._supervision.status(time.monotonic())

    def describe(self) -> str:
        return self._supervision.describe(time.monotonic())

    def stop(self) -> None:
        self._watch.cancel()


def start_database_supervisor(server: EmbeddedPostgres):
    """The supervisor of `server`, on this process's node."""
    pgdata, listen, socket_dir, user = server.supervision_args
    supervisor = DatabaseSupervisor.options(
        name=NAME,
        namespace=RAY_NAMESPACE,
        get_if_exists=True,
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False
        ),
    ).remote(str(pgdata), listen, str(socket_dir), user)
    ray.get(supervisor.status.remote())
    return supervisor


def database_supervisor():
    """The running system's supervisor, or None with an external database."""
    try:
        return ray.get_actor(NAME, namespace=RAY_NAMESPACE)
    except ValueError:
        return None
