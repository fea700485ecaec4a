"""Sites: their grid limit and tariff, and the smart-charging plan that respects them."""

from __future__ import annotations

from typing import Protocol

from sigecve.db.repositories import Repositories
from sigecve.domain import Site, SitePlan
from sigecve.services.errors import Conflict, NotFound


class SchedulerDirectory(Protocol):
    """Reaches a site's grid scheduler wherever it runs."""

    async def ensure(self, site_id: str) -> object: ...
    async def replan(self, site_id: str) -> SitePlan: ...
    async def plan(self, site_id: str) -> SitePlan: ...


async def create_site(repos: Repositories, schedulers: SchedulerDirectory, site: Site) -> Site:
    if not await repos.sites.insert(site):
        raise Conflict(f"site {site.id!r} exists already")
    await schedulers.ensure(site.id)
    return site


async def get_site(repos: Repositories, site_id: str) -> Site:
    site = await repos.sites.get(site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    return site


async def set_site_limit(
    repos: Repositories, schedulers: SchedulerDirectory, site_id: str, max_power_kw: float
) -> SitePlan:
    """Change the grid limit now; the site is re-planned and its chargers told at once."""
    if not await repos.sites.set_limit(site_id, max_power_kw):
        raise NotFound(f"no site {site_id!r}")
    return await schedulers.replan(site_id)


async def get_site_plan(
    repos: Repositories, schedulers: SchedulerDirectory, site_id: str
) -> SitePlan:
    await get_site(repos, site_id)
    return await schedulers.plan(site_id)
