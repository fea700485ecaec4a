"""Maintenance work orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    WorkOrder,
)


class MaintenanceRepository:
    """Work orders: failures and repairs, the labels of failure prediction."""

    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def open(
        self, charge_point_id: str, failed_at: datetime, failure_mode: str, notes: str | None
    ) -> WorkOrder:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO maintenance (charge_point_id, failed_at, failure_mode, notes)
                   VALUES (%s, %s, %s, %s) RETURNING *""",
                (charge_point_id, failed_at, failure_mode, notes),
            )
            row = await cur.fetchone()
            assert row is not None
            return WorkOrder(**row)

    async def get(self, work_order_id: int) -> WorkOrder | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM maintenance WHERE id = %s", (work_order_id,))
            row = await cur.fetchone()
            return WorkOrder(**row) if row else None

    async def restore(
        self, work_order_id: int, restored_at: datetime, notes: str | None
    ) -> tuple[WorkOrder | None, int]:
        """Close the work order and clear the charger's open alerts, in one transaction; the
        work order (None if it was not open) and the number of alerts cleared."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE maintenance SET restored_at = %s, notes = COALESCE(%s, notes)
                   WHERE id = %s AND restored_at IS NULL RETURNING *""",
                (restored_at, notes, work_order_id),
            )
            row = await cur.fetchone()
            if row is None:
                return None, 0
            cleared = await conn.execute(
                """UPDATE alerts SET cleared_at = %s
                   WHERE charge_point_id = %s AND cleared_at IS NULL""",
                (restored_at, row["charge_point_id"]),
            )
            return WorkOrder(**row), cleared.rowcount

    async def list(
        self,
        *,
        charge_point_id: str | None,
        open_only: bool | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[WorkOrder]:
        where = (
            Filters()
            .where("charge_point_id = {}", charge_point_id)
            .where("(restored_at IS NULL) = {}", open_only)
        )
        rows = await keyset_list(self.pool, "SELECT * FROM maintenance", where, order, after, limit)
        return [WorkOrder(**r) for r in rows]
