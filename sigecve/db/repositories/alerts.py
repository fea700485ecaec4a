"""Alerts: failure predictions, and problems stations reported through monitoring."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import Alert
from sigecve.variable_monitoring import MonitoringEvent


class AlertRepository:
    """Failure-prediction alerts (raised by the scoring actors) and monitoring alerts (raised
    and cleared by stations' events); cleared on repair."""

    # A problem a station reported sorts above any predicted risk.
    SORTS = {"id": ("a.id", int), "risk": ("a.risk", float, 2.0)}
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
        source: str | None = None,
        after: Any,
        limit: int,
    ) -> list[Alert]:
        where = (
            Filters()
            .where("a.charge_point_id = {}", charge_point_id)
            .where("(a.cleared_at IS NULL) = {}", active)
            .where("a.source = {}", source)
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

    async def monitoring_events(
        self, charge_point_id: str, events: list[tuple[MonitoringEvent, bool]]
    ) -> None:
        """Raise (or refresh: one open alert per component and variable) and clear the
        charge point's monitoring alerts (True: raise), in the order the events came."""
        async with transaction(self.pool) as conn:
            for event, raise_it in events:
                if raise_it:
                    await conn.execute(
                        """INSERT INTO alerts (charge_point_id, source, raised_at, event_key, event)
                           VALUES (%s, 'monitoring', %s, %s, %s)
                           ON CONFLICT (charge_point_id, event_key)
                               WHERE cleared_at IS NULL AND source = 'monitoring'
                           DO UPDATE SET event = EXCLUDED.event""",
                        (
                            charge_point_id,
                            event.at,
                            event.key,
                            Jsonb(event.model_dump(mode="json")),
                        ),
                    )
                else:
                    await conn.execute(
                        """UPDATE alerts SET cleared_at = GREATEST(raised_at, %s), event = %s
                           WHERE charge_point_id = %s AND source = 'monitoring'
                             AND event_key = %s AND cleared_at IS NULL""",
                        (
                            event.at,
                            Jsonb(event.model_dump(mode="json")),
                            charge_point_id,
                            event.key,
                        ),
                    )
