"""Work orders: an operator records a charger's failure and its repair. A repair clears the
charger's open failure-prediction alerts; the work orders are the labels models learn from."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from sigecve.db.repositories import MaintenanceRepository, Repositories
from sigecve.domain import NewWorkOrder, Repair, WorkOrder
from sigecve.services.charge_points import get_charge_point
from sigecve.services.errors import Conflict, InvalidInput, NotFound
from sigecve.services.pagination import paginate


class WorkOrderPage(BaseModel):
    items: list[WorkOrder]
    next_cursor: str | None = None


class Repaired(BaseModel):
    work_order: WorkOrder
    alerts_cleared: int = Field(description="the charger's open alerts, cleared by the repair")


async def open_work_order(
    repos: Repositories, charge_point_id: str, new: NewWorkOrder, now: datetime | None = None
) -> WorkOrder:
    await get_charge_point(repos, charge_point_id)
    now = now or datetime.now(UTC)
    failed_at = new.failed_at or now
    if failed_at.tzinfo is None:
        raise InvalidInput("failed_at: give a time zone (e.g. 2026-11-25T08:00:00Z)")
    if failed_at > now:
        raise InvalidInput("failed_at: in the future")
    return await repos.maintenance.open(
        charge_point_id, failed_at, new.failure_mode.value, new.notes
    )


async def restore(
    repos: Repositories, work_order_id: int, repair: Repair, now: datetime | None = None
) -> Repaired:
    """The charger is repaired: the work order closes and its open alerts clear."""
    order = await repos.maintenance.get(work_order_id)
    if order is None:
        raise NotFound(f"no work order {work_order_id}")
    if order.restored_at is not None:
        raise Conflict(f"work order {work_order_id} was closed at {order.restored_at.isoformat()}")
    restored_at = repair.restored_at or now or datetime.now(UTC)
    if restored_at.tzinfo is None:
        raise InvalidInput("restored_at: give a time zone (e.g. 2026-11-25T08:00:00Z)")
    if restored_at < order.failed_at:
        raise InvalidInput("restored_at: before the failure")
    closed, cleared = await repos.maintenance.restore(work_order_id, restored_at, repair.notes)
    if closed is None:  # closed meanwhile by someone else
        raise Conflict(f"work order {work_order_id} is closed already")
    return Repaired(work_order=closed, alerts_cleared=cleared)


async def list_work_orders(
    repos: Repositories,
    *,
    charge_point_id: str | None = None,
    open_only: bool | None = None,
    sort: str = "-id",
    cursor: str | None = None,
    limit: int = 100,
) -> WorkOrderPage:
    items, next_cursor = await paginate(
        lambda **page: repos.maintenance.list(
            charge_point_id=charge_point_id, open_only=open_only, **page
        ),
        MaintenanceRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return WorkOrderPage(items=items, next_cursor=next_cursor)
