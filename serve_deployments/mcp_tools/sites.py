"""MCP tools on sites and smart charging, as `rest_routes/sites.py`: the plan, the caps,
the price forecast and a session's needs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from serve_deployments.mcp_tools.base import READ_ONLY, SiteId, Tools, TransactionRef, changes
from sigecve.domain import (
    SITE_MAX_POWER_KW,
    LimitSchedule,
    LimitStep,
    PriceSchedule,
    PriceStep,
    SessionDemand,
    SitePlan,
)
from sigecve.services import sites
from sigecve.services.api_tokens import Role


def register(tools: Tools) -> None:
    @tools.tool(Role.viewer, READ_ONLY, "Charging plan of a site")
    async def get_charging_plan(site_id: SiteId, ctx: Context) -> SitePlan:
        """The smart-charging plan now in force at a site: its grid limit, and for each
        running session the power it gets and why (`reason`), the departure it is planned
        with (told, or guessed from the driver's habits: `departure_guess`), and the limit
        sent to its charger (with the charger's reply)."""
        return await sites.get_site_plan(tools.api.repos, tools.api.schedulers, site_id)

    @tools.tool(Role.operator, changes(destructive=True, idempotent=True), "Cap a site's power")
    async def set_site_power_limit(
        site_id: SiteId,
        max_power_kw: Annotated[
            float, Field(ge=0, le=SITE_MAX_POWER_KW, description="the new cap, kW")
        ],
        ctx: Context,
    ) -> SitePlan:
        """Cap a site's grid power now. The optimiser re-plans at once and sends each running
        session's charger its new limit; the new plan (with every charger's reply) comes
        back. The cap stays until it is changed again."""
        return await sites.set_site_limit(
            tools.api.repos, tools.api.schedulers, site_id, max_power_kw
        )

    @tools.tool(Role.operator, changes(destructive=True, idempotent=True), "Schedule a site's cap")
    async def set_site_limit_schedule(
        site_id: SiteId,
        steps: Annotated[
            list[LimitStep],
            Field(
                min_length=1,
                max_length=1000,
                description="each cap (kW) holds from `starts_at` until the next step",
            ),
        ],
        ctx: Context,
    ) -> SitePlan:
        """Cap a site's power over time below its grid limit: e.g. 0 kW during a demand-
        response event, 80 kW until 18:00 then back to the limit (a last step at the limit).
        Replaces the site's limit schedule; the site is re-planned at once."""
        return await sites.set_site_schedules(
            tools.api.repos, tools.api.schedulers, site_id, limits=LimitSchedule(steps=steps)
        )

    @tools.tool(Role.operator, changes(destructive=False, idempotent=True), "Set a price forecast")
    async def set_site_price_forecast(
        site_id: SiteId,
        steps: Annotated[
            list[PriceStep],
            Field(min_length=1, max_length=1000, description="each price holds until the next"),
        ],
        ctx: Context,
    ) -> SitePlan:
        """Give the optimiser a site's energy prices ahead (per kWh, from each `starts_at`
        until the next step). Sessions whose departure is known charge in the cheap slots;
        the site is re-planned at once."""
        return await sites.set_site_schedules(
            tools.api.repos, tools.api.schedulers, site_id, prices=PriceSchedule(steps=steps)
        )

    @tools.tool(Role.operator, changes(destructive=False, idempotent=True), "Set a session's needs")
    async def set_session_demand(
        transaction: TransactionRef,
        ctx: Context,
        target_energy_kwh: Annotated[float | None, Field(ge=0, le=1000)] = None,
        departure_at: Annotated[datetime | None, Field(description="when the driver leaves")] = (
            None
        ),
        ev_max_power_kw: Annotated[float | None, Field(ge=0, le=1000)] = None,
        priority: Annotated[
            int | None,
            Field(ge=1, le=10, description="1 normal; higher is served first when power is short"),
        ] = None,
        charge_now: Annotated[
            bool | None,
            Field(description="true: full power now whatever the price; false: cheapest again"),
        ] = None,
    ) -> sites.DemandResult:
        """Tell the optimiser what a running session needs: the energy to deliver, when the
        driver leaves, the car's power limit, its priority (e.g. an emergency vehicle, a fleet
        van due out), or "charge now" (no waiting for cheaper hours). What is told overrides
        the departure guessed from the driver's habits. The site is re-planned at once."""
        demand = SessionDemand(
            target_energy_kwh=target_energy_kwh,
            departure_at=departure_at,
            ev_max_power_kw=ev_max_power_kw,
            priority=priority,
            charge_now=charge_now,
        )
        return await sites.set_session_demand(
            tools.api.repos, tools.api.schedulers, transaction, demand
        )
