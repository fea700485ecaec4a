"""The device model: each charger's stored variables and the reports asked of it, and
queries across the fleet ("which chargers have TxCtrlr.TxStartPoint = Authorized")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serve_deployments.rest_routes.charge_points import CommandErrors
from serve_deployments.rest_routes.common import ApiContext, Cursor, PageSize, errors, require
from sigecve.services import device_model, parameters
from sigecve.services.api_tokens import Role
from sigecve.services.device_model import WHERE_DESCRIPTION, DeviceModel, VariableMatchPage
from sigecve.services.remote_commands import DeviceModelRequest


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["device model"])
    viewer, operator, _ = (require(ctx, r) for r in Role)

    @api.get(
        "/charge-points/{charge_point_id}/variables",
        response_model=DeviceModel,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_variables(charge_point_id: parameters.ChargePointId) -> DeviceModel:
        """The charger's device model as it last reported it (2.x NotifyReport, GetVariables
        and SetVariables answers; 1.6 configuration keys), and the reports asked of it."""
        return await device_model.device_model_of(ctx.repos, charge_point_id)

    @api.post(
        "/charge-points/{charge_point_id}/variables/report",
        response_model=DeviceModelRequest,
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def request_device_model_report(
        charge_point_id: parameters.ChargePointId,
    ) -> DeviceModelRequest:
        """Ask the charger for its whole device model (2.x GetBaseReport FullInventory, whose
        parts arrive as NotifyReport; 1.6 GetConfiguration). Follow it in GET .../variables."""
        return await ctx.commander.request_device_model_report(charge_point_id)

    @api.get(
        "/variables",
        response_model=VariableMatchPage,
        responses=errors(422),
        dependencies=[viewer],
    )
    async def find_charge_points_by_variables(
        where: Annotated[
            list[parameters.VariableCondition],
            Query(max_length=parameters.MAX_CONDITIONS, description=WHERE_DESCRIPTION),
        ] = [],  # noqa: B006 - FastAPI copies query defaults
        firmware_version: parameters.FirmwareVersion | None = None,
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> VariableMatchPage:
        """Charge points whose stored device model meets every condition (and runs the
        firmware version, if given), with the values that matched."""
        return await device_model.find_charge_points(
            ctx.repos, where, firmware_version=firmware_version, cursor=cursor, limit=limit
        )

    return api
