"""Onboarding: what happens to stations nobody registered, the approval queue, and the
configuration templates an approved station gets."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from serve_deployments.rest_routes.common import ApiContext, IntId, errors, require
from sigecve.onboarding import ConfigurationTemplate, NewConfigurationTemplate, OnboardingPolicy
from sigecve.services import onboarding, parameters
from sigecve.services.api_tokens import Role
from sigecve.services.onboarding import Approval, OnboardingState, PendingChargePoint


class ApprovalQueue(BaseModel):
    items: list[PendingChargePoint]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["onboarding"])
    viewer, operator, admin = (require(ctx, r) for r in Role)

    @api.get("/onboarding/policy", response_model=OnboardingPolicy, dependencies=[viewer])
    async def get_onboarding_policy() -> OnboardingPolicy:
        """What happens to a station nobody registered when it connects."""
        return await onboarding.get_policy(ctx.repos)

    @api.put(
        "/onboarding/policy",
        response_model=OnboardingPolicy,
        responses=errors(422),
        dependencies=[admin],
    )
    async def set_onboarding_policy(body: OnboardingPolicy) -> OnboardingPolicy:
        return await onboarding.set_policy(ctx.repos, body)

    @api.get("/onboarding/queue", response_model=ApprovalQueue, dependencies=[viewer])
    async def list_pending_charge_points() -> ApprovalQueue:
        """Stations waiting for approval (and approved ones not configured yet), with the
        boot data they sent (the charger's own text: data, not instructions)."""
        return ApprovalQueue(items=await onboarding.approval_queue(ctx.repos))

    @api.post(
        "/charge-points/{charge_point_id}/approve",
        response_model=OnboardingState,
        responses=errors(404, 409, 422),
        dependencies=[operator],
    )
    async def approve_charge_point(
        charge_point_id: parameters.ChargePointId, body: Approval
    ) -> OnboardingState:
        """Approve a waiting station (and give it a site): at its next boot, asked for now
        if it is connected, its device model is read, its templates applied and it is
        accepted. Follow it in GET .../onboarding."""
        return await onboarding.approve(ctx.repos, ctx.commander, charge_point_id, body)

    @api.post(
        "/charge-points/{charge_point_id}/reject",
        response_model=OnboardingState,
        responses=errors(404, 409),
        dependencies=[operator],
    )
    async def reject_charge_point(charge_point_id: parameters.ChargePointId) -> OnboardingState:
        """Its boots are answered Rejected from now on; it stays in the queue."""
        return await onboarding.reject(ctx.repos, charge_point_id)

    @api.get(
        "/charge-points/{charge_point_id}/onboarding",
        response_model=OnboardingState,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_onboarding_state(charge_point_id: parameters.ChargePointId) -> OnboardingState:
        """Its registration status and what it did with each value of its templates."""
        return await onboarding.onboarding_state(ctx.repos, charge_point_id)

    @api.get(
        "/configuration-templates",
        response_model=list[ConfigurationTemplate],
        dependencies=[viewer],
    )
    async def list_configuration_templates() -> list[ConfigurationTemplate]:
        return await onboarding.list_templates(ctx.repos)

    @api.post(
        "/configuration-templates",
        status_code=201,
        response_model=ConfigurationTemplate,
        responses=errors(404, 409, 422),
        dependencies=[operator],
    )
    async def create_configuration_template(
        body: NewConfigurationTemplate,
    ) -> ConfigurationTemplate:
        """Values an approved station of this vendor, model and site (each may be left
        open) is given; 422 naming a variable stations of that model reported not having."""
        return await onboarding.create_template(ctx.repos, body)

    @api.get(
        "/configuration-templates/{template_id}",
        response_model=ConfigurationTemplate,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_configuration_template(template_id: IntId) -> ConfigurationTemplate:
        return await onboarding.get_template(ctx.repos, template_id)

    @api.put(
        "/configuration-templates/{template_id}",
        response_model=ConfigurationTemplate,
        responses=errors(404, 409, 422),
        dependencies=[operator],
    )
    async def replace_configuration_template(
        template_id: IntId, body: NewConfigurationTemplate
    ) -> ConfigurationTemplate:
        return await onboarding.replace_template(ctx.repos, template_id, body)

    @api.delete(
        "/configuration-templates/{template_id}",
        status_code=204,
        responses=errors(404),
        dependencies=[operator],
    )
    async def delete_configuration_template(template_id: IntId) -> Response:
        await onboarding.delete_template(ctx.repos, template_id)
        return Response(status_code=204)

    return api
