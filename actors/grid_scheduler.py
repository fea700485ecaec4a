"""The grid scheduler actor: one per site, re-planning on a timer and on request."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import ray

from actors.directory import HostDirectory
from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.domain import SitePlan
from sigecve.placement import RAY_NAMESPACE
from sigecve.settings import Settings
from sigecve.smart_charging.site_scheduler import SiteScheduler

log = logging.getLogger(__name__)

NAME_PREFIX = "grid-scheduler-"
REPLAN_COALESCE_S = 0.5


def request_site_replan(site_id: str) -> None:
    """Ask a site's scheduler to re-plan soon, if it runs; never waits, never fails."""
    with contextlib.suppress(Exception):
        ray.get_actor(NAME_PREFIX + site_id, namespace=RAY_NAMESPACE).request_replan.remote()


@ray.remote(num_cpus=0, max_concurrency=100)
class GridScheduler:
    def __init__(self, settings: Settings, database_url: str, site_id: str) -> None:
        self._settings = settings
        self._database_url = database_url
        self._site_id = site_id
        self._scheduler: SiteScheduler | None = None
        self._timer: asyncio.Task | None = None
        self._pending: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._scheduler is None:
            pool = await open_pool(self._database_url, max_size=2)
            directory = HostDirectory(self._settings.charge_point_hosts)
            self._scheduler = SiteScheduler(
                Repositories(pool), directory, self._site_id, self._settings.plan_time_limit_s
            )
            self._timer = asyncio.create_task(self._every(self._settings.replan_interval_s))
            self._ready.set()

    async def _every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            with contextlib.suppress(Exception):
                await self.replan()

    async def request_replan(self) -> None:
        """Re-plan soon: arrivals, departures and demand changes arriving together make one
        re-plan, not one each."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._replan_after(REPLAN_COALESCE_S))

    async def _replan_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(Exception):
            await self.replan()

    async def replan(self) -> SitePlan:
        await self._ready.wait()
        assert self._scheduler is not None
        return await self._scheduler.replan()

    async def plan(self) -> SitePlan:
        """The last plan, or a new one if there is none yet."""
        await self._ready.wait()
        assert self._scheduler is not None
        return self._scheduler.last_plan or await self._scheduler.replan()


class SchedulerDirectory:
    """Gets or creates a site's grid scheduler from any process in the cluster."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url

    async def ensure(self, site_id: str):
        # Detached: a site's scheduler outlives the REST replica that created it; `sigecve up`
        # stops them all on shutdown (stop_all).
        actor = GridScheduler.options(
            name=NAME_PREFIX + site_id,
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
        ).remote(self.settings, self.database_url, site_id)
        await actor.start.remote()
        return actor

    async def replan(self, site_id: str) -> SitePlan:
        return await (await self.ensure(site_id)).replan.remote()

    async def plan(self, site_id: str) -> SitePlan:
        return await (await self.ensure(site_id)).plan.remote()

    async def stop(self, site_id: str) -> None:
        with contextlib.suppress(ValueError):  # it was never started
            ray.kill(ray.get_actor(NAME_PREFIX + site_id, namespace=RAY_NAMESPACE))


def stop_all() -> None:
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == RAY_NAMESPACE and entry["name"].startswith(NAME_PREFIX):
            with contextlib.suppress(Exception):
                ray.kill(ray.get_actor(entry["name"], namespace=RAY_NAMESPACE))
