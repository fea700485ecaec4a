"""Grid scheduler actors: each site has its own scheduler (one logical actor, re-planning on a
timer and on request), hosted many per Ray actor process by a stable hash of the site id, as
charge points are. A process per site would cost ~45 MB and database connections per site."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import ray

from actors.directory import HostDirectory
from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.domain import SitePlan
from sigecve.ocpp.timestamps import utc_now
from sigecve.placement import RAY_NAMESPACE, host_index
from sigecve.settings import Settings
from sigecve.smart_charging.coalescing import Coalesced
from sigecve.smart_charging.site_scheduler import SiteScheduler

log = logging.getLogger(__name__)

NAME_PREFIX = "grid-scheduler-host-"
REPLAN_COALESCE_S = 0.5


@dataclass
class _Site:
    scheduler: SiteScheduler
    timer: asyncio.Task
    soon: Coalesced


# Restarted by Ray when its process dies; a site's scheduler comes back on the site's next
# re-plan request (an arrival, a departure, a meter value) and rebuilds from PostgreSQL.
# A token CPU share and SPREAD: over the nodes of a cluster (see ChargePointHost).
@ray.remote(num_cpus=0.01, max_concurrency=1000, max_restarts=-1)
class GridSchedulerHost:
    """The schedulers of every site whose id hashes to this host."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self._settings = settings
        self._database_url = database_url
        self._repos: Repositories | None = None
        self._directory: HostDirectory | None = None
        self._sites: dict[str, _Site] = {}
        self._opening = asyncio.Lock()

    async def _site(self, site_id: str) -> _Site:
        async with self._opening:
            if self._repos is None:
                pool = await open_pool(
                    self._database_url, max_size=4, timeout_s=self._settings.db_timeout_s
                )
                self._repos = Repositories(pool)
                self._directory = HostDirectory(self._settings.charge_point_hosts)
            if site_id not in self._sites:
                assert self._directory is not None
                scheduler = SiteScheduler(self._repos, self._directory, site_id)
                timer = asyncio.create_task(self._every(site_id, self._settings.replan_interval_s))
                soon = Coalesced(scheduler.replan, REPLAN_COALESCE_S)
                self._sites[site_id] = _Site(scheduler, timer, soon)
            return self._sites[site_id]

    async def ensure(self, site_id: str) -> None:
        """Start the site's scheduler (and its timer) if it is not running."""
        await self._site(site_id)

    async def _every(self, site_id: str, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            with contextlib.suppress(Exception):
                await self.replan(site_id)

    async def request_replan(self, site_id: str) -> None:
        """Re-plan soon: arrivals, departures and demand changes arriving together make one
        re-plan, not one each."""
        (await self._site(site_id)).soon.request()

    async def replan(self, site_id: str) -> SitePlan:
        return await (await self._site(site_id)).scheduler.replan()

    async def observe_power(
        self, site_id: str, charge_point_id: str, transaction_id: int | str, kw: float
    ) -> None:
        """A session's measured power: re-plan soon if it strays from the plan."""
        site = self._sites.get(site_id)
        if site is not None and site.scheduler.power_observed(
            charge_point_id, transaction_id, kw, utc_now()
        ):
            await self.request_replan(site_id)

    async def plan(self, site_id: str) -> SitePlan:
        """The last plan, or a new one if there is none yet."""
        scheduler = (await self._site(site_id)).scheduler
        return scheduler.last_plan or await scheduler.replan()

    async def stop(self, site_id: str) -> None:
        """The site is gone: its timer and pending re-plan stop."""
        site = self._sites.pop(site_id, None)
        if site is not None:
            site.timer.cancel()
            site.soon.cancel()


class SchedulerDirectory:
    """Reaches a site's scheduler from any process in the cluster (creating its host actor
    the first time); handles are kept, so a call is one actor call, not a GCS look-up."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self._hosts: list[ray.actor.ActorHandle | None] = [None] * settings.grid_scheduler_hosts

    def host_for(self, site_id: str) -> ray.actor.ActorHandle:
        i = host_index(site_id, len(self._hosts))
        if self._hosts[i] is None:
            # Detached: the hosts outlive the process that created them (a REST replica);
            # `sigecve up` stops them on shutdown (stop_all).
            self._hosts[i] = GridSchedulerHost.options(
                name=f"{NAME_PREFIX}{i}",
                namespace=RAY_NAMESPACE,
                get_if_exists=True,
                lifetime="detached",
                scheduling_strategy="SPREAD",
            ).remote(self.settings, self.database_url)
        return self._hosts[i]

    async def ensure(self, site_id: str) -> None:
        await self.host_for(site_id).ensure.remote(site_id)

    async def replan(self, site_id: str) -> SitePlan:
        return await self.host_for(site_id).replan.remote(site_id)

    async def plan(self, site_id: str) -> SitePlan:
        return await self.host_for(site_id).plan.remote(site_id)

    async def stop(self, site_id: str) -> None:
        await self.host_for(site_id).stop.remote(site_id)

    def request_replan(self, site_id: str) -> None:
        """Ask a site's scheduler to re-plan soon; never waits, never fails."""
        with contextlib.suppress(Exception):
            self.host_for(site_id).request_replan.remote(site_id)

    def observe_power(
        self, site_id: str, charge_point_id: str, transaction_id: int | str, kw: float
    ) -> None:
        """Tell a site's scheduler a session's measured power; never waits, never fails."""
        with contextlib.suppress(Exception):
            self.host_for(site_id).observe_power.remote(
                site_id, charge_point_id, transaction_id, kw
            )


def stop_all() -> None:
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == RAY_NAMESPACE and entry["name"].startswith(NAME_PREFIX):
            with contextlib.suppress(Exception):
                ray.kill(ray.get_actor(entry["name"], namespace=RAY_NAMESPACE))
