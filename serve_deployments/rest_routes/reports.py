"""Reports (energy, revenue, uptime, failed starts), failure-prediction alerts and the work
orders (failures and repairs) they learn from."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from serve_deployments.rest_routes.common import (
    ApiContext,
    BigId,
    Cursor,
    PageSize,
    errors,
    require,
)
from sigecve.domain import Alert, FailureModelInfo, NewWorkOrder, Repair, WorkOrder
from sigecve.services import alerts, maintenance, parameters, reports
from sigecve.services.alerts import AlertPage, AlertSource
from sigecve.services.api_tokens import Role
from sigecve.services.reports import Report, ReportName


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter()
    viewer, operator, _ = (require(ctx, r) for r in Role)

    @api.get(
        "/reports/{name}",
        response_model=Report,
        tags=["reports"],
        responses={
            **errors(422),
            200: {"content": {"text/csv": {}}, "description": "the report (JSON or CSV)"},
        },
        dependencies=[viewer],
    )
    async def get_report(
        name: ReportName,
        start: Annotated[
            datetime | None,
            Query(description="with a time zone; default: 30 days before end"),
        ] = None,
        end: Annotated[
            datetime | None,
            Query(
                description="with a time zone; default and at most: now; at most "
                f"{reports.MAX_PERIOD.days} days after start"
            ),
        ] = None,
        site_id: parameters.SiteId | None = None,
        format: Literal["json", "csv"] = "json",
    ):
        """energy: sessions, kWh and revenue per site and day (by start); revenue: the same
        per site for the period; uptime: per charge point, the share of time its connectors
        could charge and were in use; failed-starts: per charge point, starts refused or
        ending with under 10 Wh delivered."""
        report = await reports.build_report(ctx.repos, name, start=start, end=end, site_id=site_id)
        if format == "csv":
            return PlainTextResponse(
                reports.report_csv(report),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{name.value}.csv"'},
            )
        return report

    @api.get("/alerts", response_model=AlertPage, tags=["alerts"], dependencies=[viewer])
    async def list_alerts(
        charge_point_id: parameters.ChargePointId | None = None,
        site_id: parameters.SiteId | None = None,
        active: Annotated[bool | None, Query(description="default: only open alerts")] = True,
        source: Annotated[AlertSource | None, Query(description="default: both")] = None,
        sort: Literal["id", "-id", "risk", "-risk"] = "-risk",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> AlertPage:
        """Alerts: failures predicted (with the signals that raised them) and problems the
        stations reported through their monitors (with the event); by risk, the reported
        problems first."""
        return await alerts.list_alerts(
            ctx.repos,
            charge_point_id=charge_point_id,
            site_id=site_id,
            active=active,
            source=source,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @api.get(
        "/failure-model",
        response_model=FailureModelInfo,
        tags=["alerts"],
        responses=errors(404),
        dependencies=[viewer],
    )
    async def failure_model() -> FailureModelInfo:
        """The failure model the scoring actors use, with its evaluation."""
        return await alerts.failure_model(ctx.repos)

    @api.post(
        "/alerts/{alert_id}/clear",
        response_model=Alert,
        tags=["alerts"],
        responses=errors(404, 409),
        dependencies=[operator],
    )
    async def clear_alert(alert_id: BigId) -> Alert:
        """The charger was repaired (or the alert was wrong)."""
        return await alerts.clear_alert(ctx.repos, alert_id)

    @api.post(
        "/charge-points/{charge_point_id}/work-orders",
        status_code=201,
        response_model=WorkOrder,
        tags=["maintenance"],
        responses=errors(404, 422),
        dependencies=[operator],
    )
    async def open_work_order(
        charge_point_id: parameters.ChargePointId, body: NewWorkOrder
    ) -> WorkOrder:
        """Record that the charger failed (and how): the label failure prediction learns."""
        return await maintenance.open_work_order(ctx.repos, charge_point_id, body)

    @api.post(
        "/work-orders/{work_order_id}/restore",
        response_model=maintenance.Repaired,
        tags=["maintenance"],
        responses=errors(404, 409, 422),
        dependencies=[operator],
    )
    async def restore(work_order_id: BigId, body: Repair) -> maintenance.Repaired:
        """The charger is repaired: the work order closes and its open alerts clear."""
        return await maintenance.restore(ctx.repos, work_order_id, body)

    @api.get(
        "/work-orders",
        response_model=maintenance.WorkOrderPage,
        tags=["maintenance"],
        dependencies=[viewer],
    )
    async def work_orders(
        charge_point_id: parameters.ChargePointId | None = None,
        open_only: Annotated[
            bool | None, Query(alias="open", description="true: still down")
        ] = None,
        sort: Literal["id", "-id"] = "-id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> maintenance.WorkOrderPage:
        return await maintenance.list_work_orders(
            ctx.repos,
            charge_point_id=charge_point_id,
            open_only=open_only,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    return api
