"""Sites: their grid limit and tariff, and the smart-charging plan that respects them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories, SiteRepository
from sigecve.domain import (
    LimitSchedule,
    PriceSchedule,
    SessionDemand,
    Site,
    SiteLoad,
    SitePlan,
    SiteUpdate,
)
from sigecve.services.errors import Conflict, NotFound
from sigecve.services.pagination import paginate


class SchedulerDirectory(Protocol):
    """Reaches a site's grid scheduler wherever it runs."""

    async def ensure(self, site_id: str) -> None: ...
    async def replan(self, site_id: str) -> SitePlan: ...
    async def plan(self, site_id: str) -> SitePlan: ...
    async def stop(self, site_id: str) -> None: ...


class SitePage(BaseModel):
    items: list[Site]
    next_cursor: str | None = None


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


async def list_sites(
    repos: Repositories, *, sort: str = "id", cursor: str | None = None, limit: int = 100
) -> SitePage:
    items, next_cursor = await paginate(
        repos.sites.list, SiteRepository, sort=sort, cursor=cursor, limit=limit
    )
    return SitePage(items=items, next_cursor=next_cursor)


async def update_site(
    repos: Repositories, schedulers: SchedulerDirectory, site_id: str, update: SiteUpdate
) -> Site:
    changes = update.model_dump(exclude_unset=True)
    if not await repos.sites.update(site_id, changes):
        raise NotFound(f"no site {site_id!r}")
    if changes.keys() & {
        "max_power_kw",
        "smart_charging",
        "max_export_kw",
        "export_price_per_kwh",
        "battery_wear_cost_per_kwh",
    }:
        await schedulers.replan(site_id)
    return await get_site(repos, site_id)


async def delete_site(repos: Repositories, schedulers: SchedulerDirectory, site_id: str) -> None:
    outcome = await repos.sites.delete_if_empty(site_id)
    if outcome == "missing":
        raise NotFound(f"no site {site_id!r}")
    if outcome == "in_use":
        raise Conflict(f"site {site_id!r} still has charge points; move or decommission them")
    await schedulers.stop(site_id)


async def set_site_limit(
    repos: Repositories, schedulers: SchedulerDirectory, site_id: str, max_power_kw: float
) -> SitePlan:
    """Change the grid limit now; the site is re-planned and its chargers told at once."""
    if not await repos.sites.set_limit(site_id, max_power_kw):
        raise NotFound(f"no site {site_id!r}")
    return await schedulers.replan(site_id)


async def set_site_schedules(
    repos: Repositories,
    schedulers: SchedulerDirectory,
    site_id: str,
    *,
    prices: PriceSchedule | None = None,
    limits: LimitSchedule | None = None,
) -> SitePlan:
    """Replace the site's price signal or limit schedule; the site is re-planned at once."""
    if not await repos.sites.set_schedules(site_id, prices=prices, limits=limits):
        raise NotFound(f"no site {site_id!r}")
    return await schedulers.replan(site_id)


async def get_site_plan(
    repos: Repositories, schedulers: SchedulerDirectory, site_id: str
) -> SitePlan:
    await get_site(repos, site_id)
    return await schedulers.plan(site_id)


async def get_site_load(repos: Repositories, site_id: str, day: date | None) -> SiteLoad:
    site = await get_site(repos, site_id)
    day = day or datetime.now(UTC).date()
    return SiteLoad(
        site_id=site_id,
        day=day,
        site_limit_kw=site.max_power_kw,
        samples=await repos.sites.load(site_id, day),
    )


class DemandResult(BaseModel):
    transaction_id: int = Field(description="SIGEC-VE's id of the transaction (`id`)")
    site_id: str | None
    plan: SitePlan | None = Field(description="the site's new plan; none without a site")


async def set_session_demand(
    repos: Repositories,
    schedulers: SchedulerDirectory,
    transaction_id: int,
    demand: SessionDemand,
) -> DemandResult:
    """The driver's target energy, departure or EV limit for an open session; its site is
    re-planned at once."""
    open_tx = await repos.demands.open_transaction(transaction_id)
    if open_tx is None:
        raise NotFound(f"no open transaction with id {transaction_id}")
    await repos.demands.upsert(transaction_id, demand, "driver")
    site_id = open_tx["site_id"]
    if site_id is None or await repos.sites.get(site_id) is None:
        return DemandResult(transaction_id=transaction_id, site_id=None, plan=None)
    return DemandResult(
        transaction_id=transaction_id, site_id=site_id, plan=await schedulers.replan(site_id)
    )
