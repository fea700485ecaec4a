"""Alerts as operators see them (failures predicted, problems stations reported through
their monitors): listed, cleared after a repair."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from sigecve.db.repositories import AlertRepository, Repositories
from sigecve.domain import Alert, FailureModelInfo
from sigecve.services.errors import Conflict, NotFound
from sigecve.services.pagination import paginate

AlertSource = Literal["failure_prediction", "monitoring"]


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None = None


async def list_alerts(
    repos: Repositories,
    *,
    charge_point_id: str | None = None,
    site_id: str | None = None,
    active: bool | None = True,
    source: AlertSource | None = None,
    sort: str = "-risk",
    cursor: str | None = None,
    limit: int = 100,
) -> AlertPage:
    items, next_cursor = await paginate(
        lambda **page: repos.alerts.list(
            charge_point_id=charge_point_id, active=active, site_id=site_id, source=source, **page
        ),
        AlertRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return AlertPage(items=items, next_cursor=next_cursor)


async def clear_alert(repos: Repositories, alert_id: int) -> Alert:
    """The charger was repaired (or the alert was wrong): stop showing it."""
    alert = await repos.alerts.get(alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if not await repos.alerts.clear(alert_id):
        raise Conflict(f"alert {alert_id} is cleared already")
    return await repos.alerts.get(alert_id) or alert


async def failure_model(repos: Repositories) -> FailureModelInfo:
    model = await repos.failure_models.current()
    if model is None:
        raise NotFound(
            "no failure model is deployed: `sigecve ml deploy`, or start with "
            "SIGECVE_ML_BOOTSTRAP_MODEL=true"
        )
    return model
