"""Sites: grid limit, tariff, price signal and limit schedule, and the smart-charging plan."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response

from serve_deployments.rest_routes.common import (
    ApiContext,
    BigId,
    Cursor,
    PageSize,
    errors,
    require,
)
from sigecve.domain import (
    LimitSchedule,
    PriceSchedule,
    SessionDemand,
    Site,
    SiteLimit,
    SiteLoad,
    SitePlan,
    SiteUpdate,
)
from sigecve.services import parameters, sites
from sigecve.services.api_tokens import Role
from sigecve.services.sites import SitePage


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["sites"])
    viewer, operator, admin = (require(ctx, r) for r in Role)

    @api.post(
        "/sites",
        status_code=201,
        response_model=Site,
        responses=errors(409),
        dependencies=[operator],
    )
    async def create_site(body: Site) -> Site:
        """A site with its grid limit and tariff; its grid scheduler starts at once."""
        return await sites.create_site(ctx.repos, ctx.schedulers, body)

    @api.get("/sites", response_model=SitePage, dependencies=[viewer])
    async def list_sites(
        sort: Literal["id", "-id"] = "id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> SitePage:
        return await sites.list_sites(ctx.repos, sort=sort, cursor=cursor, limit=limit)

    @api.get("/sites/{site_id}", response_model=Site, responses=errors(404), dependencies=[viewer])
    async def get_site(site_id: parameters.SiteId) -> Site:
        return await sites.get_site(ctx.repos, site_id)

    @api.patch(
        "/sites/{site_id}",
        response_model=Site,
        responses=errors(404, 422),
        dependencies=[operator],
    )
    async def update_site(site_id: parameters.SiteId, body: SiteUpdate) -> Site:
        """Rename, change the tariff, the grid limit or smart charging on/off (re-plans)."""
        return await sites.update_site(ctx.repos, ctx.schedulers, site_id, body)

    @api.delete(
        "/sites/{site_id}", status_code=204, responses=errors(404, 409), dependencies=[admin]
    )
    async def delete_site(site_id: parameters.SiteId) -> Response:
        """Only a site without charge points in service can go."""
        await sites.delete_site(ctx.repos, ctx.schedulers, site_id)
        return Response(status_code=204)

    @api.put(
        "/sites/{site_id}/limit",
        response_model=SitePlan,
        tags=["smart charging"],
        responses=errors(404),
        dependencies=[operator],
    )
    async def set_site_limit(site_id: parameters.SiteId, body: SiteLimit) -> SitePlan:
        """Cap the site now: it is re-planned at once and the new plan, with each charger's
        reply to its charging profile, comes back."""
        return await sites.set_site_limit(ctx.repos, ctx.schedulers, site_id, body.max_power_kw)

    @api.put(
        "/sites/{site_id}/prices",
        response_model=SitePlan,
        tags=["smart charging"],
        responses=errors(404),
        dependencies=[operator],
    )
    async def set_site_prices(site_id: parameters.SiteId, body: PriceSchedule) -> SitePlan:
        """Upload a price signal (steps of price per kWh, each until the next); the site is
        re-planned at once. Sessions with a known departure wait for cheaper slots."""
        return await sites.set_site_schedules(ctx.repos, ctx.schedulers, site_id, prices=body)

    @api.put(
        "/sites/{site_id}/limit-schedule",
        response_model=SitePlan,
        tags=["smart charging"],
        responses=errors(404),
        dependencies=[operator],
    )
    async def set_site_limit_schedule(site_id: parameters.SiteId, body: LimitSchedule) -> SitePlan:
        """Cap the site over time (steps of kW, each until the next, below its limit); the
        site is re-planned at once."""
        return await sites.set_site_schedules(ctx.repos, ctx.schedulers, site_id, limits=body)

    @api.get(
        "/sites/{site_id}/plan",
        response_model=SitePlan,
        tags=["smart charging"],
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_site_plan(site_id: parameters.SiteId) -> SitePlan:
        return await sites.get_site_plan(ctx.repos, ctx.schedulers, site_id)

    @api.get(
        "/sites/{site_id}/load",
        response_model=SiteLoad,
        tags=["smart charging"],
        responses=errors(404, 422),
        dependencies=[viewer],
    )
    async def get_site_load(site_id: parameters.SiteId, day: date | None = None) -> SiteLoad:
        """The site's load over a UTC day (default today) in 15-minute intervals, from the
        power its chargers sampled, with its grid limit."""
        return await sites.get_site_load(ctx.repos, site_id, day)

    @api.put(
        "/transactions/{transaction_id}/demand",
        response_model=sites.DemandResult,
        tags=["smart charging"],
        responses=errors(404),
        dependencies=[operator],
    )
    async def set_session_demand(transaction_id: BigId, body: SessionDemand) -> sites.DemandResult:
        """What the driver needs from an open session (`id` from the transaction list): the
        smart-charging plan of its site charges toward it from now on."""
        return await sites.set_session_demand(ctx.repos, ctx.schedulers, transaction_id, body)

    return api
