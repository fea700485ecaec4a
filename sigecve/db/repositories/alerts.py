"""Failure-prediction alerts."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
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
        params: dict[str, Any] = {
            "cp": charge_point_id,
            "active": active,
            "site": site_id,
            "limit": limit,
        }
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM alerts a
                    WHERE (%(cp)s::text IS NULL OR a.charge_point_id = %(cp)s)
                      AND (%(active)s::boolean IS NULL OR (a.cleared_at IS NULL) = %(active)s)
                      AND (%(site)s::text IS NULL OR a.charge_point_id IN (
                          SELECT id FROM charge_points WHERE site_id = %(site)s))
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [Alert(**r) for r in await cur.fetchall()]

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
