"""Failure-prediction alerts."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    Alert,
)


class AlertRepository:
    """Failure-prediction alerts: raised by the scoring actors, cleared on repair."""

    SORTS = {"id": ("a.id", int), "risk": ("a.risk", float)}
    ID = ("a.id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def list(
        self,
        *,
        charge_point_id: str | None,
        active: bool | None,
        site_id: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[Alert]:
        where = (
            Filters()
            .where("a.charge_point_id = {}", charge_point_id)
            .where("(a.cleared_at IS NULL) = {}", active)
            .where(
                "a.charge_point_id IN (SELECT id FROM charge_points WHERE site_id = {})", site_id
            )
        )
        rows = await keyset_list(self.pool, "SELECT * FROM alerts a", where, order, after, limit)
        return [Alert(**r) for r in rows]

    async def get(self, alert_id: int) -> Alert | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM alerts WHERE id = %s", (alert_id,))
            row = await cur.fetchone()
            return Alert(**row) if row else None

    async def clear(self, alert_id: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "UPDATE alerts SET cleared_at = now() WHERE id = %s AND cleared_at IS NULL",
                (alert_id,),
            )
            return cur.rowcount == 1
