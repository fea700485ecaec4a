"""The device model: each charger's stored variables and the reports asked of it, queries
across the fleet ("which chargers have TxCtrlr.TxStartPoint = Authorized"), and the
monitors 2.x stations hold on their variables."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serve_deployments.rest_routes.charge_points import CommandErrors
from serve_deployments.rest_routes.common import ApiContext, Cursor, PageSize, errors, require
from sigecve.domain import CommandResult
from sigecve.services import device_model, parameters, variable_monitoring
from sigecve.services.api_tokens import Role
from sigecve.services.device_model import WHERE_DESCRIPTION, DeviceModel, VariableMatchPage
from sigecve.services.remote_commands import DeviceModelRequest
from sigecve.services.variable_monitoring import (
    MonitoringReportRequest,
    MonitorRequest,
    MonitorSet,
    VariableMonitors,
)
from sigecve.variable_monitoring import MAX_MONITOR_ID


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

    @api.get(
        "/charge-points/{charge_point_id}/monitors",
        response_model=VariableMonitors,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_variable_monitors(charge_point_id: parameters.ChargePointId) -> VariableMonitors:
        """The monitors the station holds on its variables, as far as SIGEC-VE knows: set
        here (SetVariableMonitoring, as the station accepted them) or reported by it."""
        return await variable_monitoring.monitors_of(ctx.repos, charge_point_id)

    @api.post(
        "/charge-points/{charge_point_id}/monitors",
        response_model=MonitorSet,
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def set_variable_monitor(
        charge_point_id: parameters.ChargePointId, req: MonitorRequest
    ) -> MonitorSet:
        """Set a monitor on one of a 2.x station's variables (SetVariableMonitoring): its
        alerting events of severity 0-5 raise alerts (GET /alerts?source=monitoring) until
        the station reports them cleared. Checked first against the station's stored device
        model (422 for a variable it did not report or cannot monitor); 409 on OCPP 1.6."""
        return await variable_monitoring.set_monitor(ctx.repos, ctx.commander, charge_point_id, req)

    @api.delete(
        "/charge-points/{charge_point_id}/monitors/{monitor_id}",
        response_model=CommandResult,
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def clear_variable_monitor(
        charge_point_id: parameters.ChargePointId,
        monitor_id: Annotated[int, Path(ge=0, le=MAX_MONITOR_ID)],
    ) -> CommandResult:
        """Clear a monitor (ClearVariableMonitoring); the station's status is the result's
        (Accepted, Rejected for a hard-wired one, NotFound)."""
        return await variable_monitoring.clear_monitor(
            ctx.repos, ctx.commander, charge_point_id, monitor_id
        )

    @api.post(
        "/charge-points/{charge_point_id}/monitors/report",
        response_model=MonitoringReportRequest,
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def request_monitoring_report(
        charge_point_id: parameters.ChargePointId,
    ) -> MonitoringReportRequest:
        """Ask the station for the monitors it holds (GetMonitoringReport); they arrive in
        NotifyMonitoringReport and show in GET .../monitors."""
        return await variable_monitoring.request_monitoring_report(ctx.commander, charge_point_id)

    return api
