"""The Ray actor process hosting many charge-point actors (see sigecve.ocpp.sessions)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import ray

from actors.grid_scheduler import SchedulerDirectory
from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.domain import CommandResult
from sigecve.gc_tuning import tune_for_many_connections
from sigecve.ocpp.sessions import (
    ChargePointSessions,
    ConnectRequest,
    ConnectResult,
    OutboundItem,
)
from sigecve.placement import RAY_NAMESPACE, gateway_node, host_actor_name
from sigecve.settings import Settings

log = logging.getLogger(__name__)

SITE_CACHE_S = 60.0


# Restarted by Ray whenever its process dies: the new one starts empty (every session it
# held is gone with the process; the gateway closes those connections and the chargers
# reconnect, finding their transactions in PostgreSQL).
# A token CPU share: Ray places an actor asking for no resources on a random node, whatever
# its scheduling strategy, and the hosts must spread over a cluster's nodes.
@ray.remote(num_cpus=0.01, max_concurrency=100_000, max_restarts=-1)
class ChargePointHost:
    def __init__(self, settings: Settings, database_url: str, *, purges_log: bool = False) -> None:
        self._settings = settings
        self._database_url = database_url
        self._purges_log = purges_log  # one host purges the shared message log
        self._sessions: ChargePointSessions | None = None
        self._started = asyncio.Event()
        self._purge: asyncio.Task | None = None
        self._schedulers = SchedulerDirectory(settings, database_url)
        self._site_cache: dict[str, tuple[float, str | None]] = {}
        self._starting = asyncio.Lock()
        tune_for_many_connections()

    async def start(self) -> int:
        """Open the database pool; returns the number of charge points hosted (0). A
        restarted host starts on its first call."""
        async with self._starting:
            if self._sessions is None:
                await self._open()
        assert self._sessions is not None
        return self._sessions.connected_count

    async def _open(self) -> None:
        pool = await open_pool(
            self._database_url,
            max_size=self._settings.db_pool_max,
            timeout_s=self._settings.db_timeout_s,
        )
        self._sessions = ChargePointSessions(
            Repositories(pool),
            auto_register=self._settings.auto_register,
            heartbeat_interval_s=self._settings.heartbeat_interval_s,
            boot_retry_s=self._settings.boot_retry_s,
            command_timeout_s=self._settings.command_timeout_s,
            site_replanner=self._replan_site_of,
            power_observer=self._power_of,
            gateways_on_live_nodes=self._gateways_on_live_nodes,
        )
        self._sessions.start()
        if self._purges_log:
            self._purge = asyncio.create_task(
                self._sessions.message_log.purge_forever(self._settings.message_log_retention_days)
            )
        self._started.set()

    async def _gateways_on_live_nodes(self, gateways: set[str]) -> set[str]:
        """Of these gateways past their lease, those whose Ray node the GCS still has alive."""
        nodes = await asyncio.to_thread(ray.nodes)
        alive = {n["NodeID"] for n in nodes if n.get("Alive")}
        return {g for g in gateways if gateway_node(g) in alive}

    async def _site_of(self, charge_point_id: str) -> str | None:
        """The charge point's site, kept a minute: asked at every meter value."""
        assert self._sessions is not None
        now = time.monotonic()
        known = self._site_cache.get(charge_point_id)
        if known is None or known[0] < now:
            site_id = await self._sessions.repos.sites.site_of(charge_point_id)
            known = self._site_cache[charge_point_id] = (now + SITE_CACHE_S, site_id)
        return known[1]

    async def _replan_site_of(self, charge_point_id: str) -> None:
        site_id = await self._site_of(charge_point_id)
        if site_id is not None:
            self._schedulers.request_replan(site_id)

    async def _power_of(self, charge_point_id: str, transaction_id: int | str, kw: float) -> None:
        site_id = await self._site_of(charge_point_id)
        if site_id is not None:
            self._schedulers.observe_power(site_id, charge_point_id, transaction_id, kw)

    async def _ready(self) -> ChargePointSessions:
        if not self._started.is_set():
            await self.start()
        assert self._sessions is not None
        return self._sessions

    async def connect(self, gateway_id: str, requests: list[ConnectRequest]) -> list[ConnectResult]:
        return await (await self._ready()).connect(gateway_id, requests)

    async def deliver(self, frames: list[tuple[str, str, str | None]]) -> None:
        (await self._ready()).deliver(frames)

    async def poll(self, gateway_id: str, max_wait_s: float) -> list[OutboundItem]:
        return await (await self._ready()).poll(gateway_id, max_wait_s)

    async def hosting(self, connections: list[tuple[str, str]]) -> list[str]:
        return (await self._ready()).hosting(connections)

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any], timeout_s: float | None
    ) -> CommandResult:
        return await (await self._ready()).call(charge_point_id, action, payload, timeout_s)

    async def is_connected(self, charge_point_id: str) -> bool:
        return (await self._ready()).is_connected(charge_point_id)

    async def protocol_of(self, charge_point_id: str) -> str | None:
        return (await self._ready()).protocol_of(charge_point_id)

    async def stats(self) -> dict[str, Any]:
        """How many chargers it hosts, on which node, and where they entered the cluster."""
        sessions = await self._ready()
        return {
            "connected": sessions.connected_count,
            "node_id": ray.get_runtime_context().get_node_id(),
            "entered": sessions.entered_by_ingress(),
        }

    async def stop(self) -> None:
        if self._purge is not None:
            self._purge.cancel()
        if self._sessions is not None:
            await self._sessions.close()


def start_charge_point_hosts(
    settings: Settings, database_url: str, *, detached: bool = False
) -> list:
    """The named host actors, started (existing ones are reused); detached ones outlive the
    caller (Serve's application builders)."""
    hosts = [
        ChargePointHost.options(
            name=host_actor_name(i),
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            lifetime="detached" if detached else None,
            # Over the nodes of a cluster: a node lost takes only its share of chargers.
            scheduling_strategy="SPREAD",
        ).remote(settings, database_url, purges_log=i == 0)
        for i in range(settings.charge_point_hosts)
    ]
    ray.get([h.start.remote() for h in hosts])
    return hosts
