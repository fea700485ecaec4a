"""The monitors 2.x stations hold."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.variable_monitoring import VariableMonitor

_FIELDS = (
    "id", "component", "component_instance", "evse_id", "connector_id", "variable",
    "variable_instance", "type", "value", "severity", "transaction", "origin",
)  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)


class VariableMonitorRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def store(self, charge_point_id: str, monitors: list[VariableMonitor]) -> None:
        """As accepted or reported: the station's newest word on a monitor id wins."""
        if not monitors:
            return
        rows = [(charge_point_id, *(getattr(m, f) for f in _FIELDS)) for m in monitors]
        async with connection(self.pool) as conn:
            async with conn.cursor() as cur:
                await cur.executemany(
                    f"""INSERT INTO variable_monitors (charge_point_id, {_COLUMNS})
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                        ON CONFLICT (charge_point_id, id) DO UPDATE SET
                            component = EXCLUDED.component,
                            component_instance = EXCLUDED.component_instance,
                            evse_id = EXCLUDED.evse_id, connector_id = EXCLUDED.connector_id,
                            variable = EXCLUDED.variable,
                            variable_instance = EXCLUDED.variable_instance,
                            type = EXCLUDED.type, value = EXCLUDED.value,
                            severity = EXCLUDED.severity, transaction = EXCLUDED.transaction,
                            origin = EXCLUDED.origin, updated_at = now()""",
                    rows,
                )

    async def remove(self, charge_point_id: str, monitor_ids: Iterable[int]) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                "DELETE FROM variable_monitors WHERE charge_point_id = %s AND id = ANY(%s)",
                (charge_point_id, list(monitor_ids)),
            )

    async def of(self, charge_point_id: str) -> list[VariableMonitor]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT * FROM variable_monitors WHERE charge_point_id = %s ORDER BY id",
                (charge_point_id,),
            )
            return [VariableMonitor(**r) for r in await cur.fetchall()]

    async def severities(self, charge_point_id: str, monitor_ids: Iterable[int]) -> dict[int, int]:
        """Monitor id -> severity, for the ones among `monitor_ids` stored."""
        ids = list(set(monitor_ids))
        if not ids:
            return {}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id, severity FROM variable_monitors
                   WHERE charge_point_id = %s AND id = ANY(%s)""",
                (charge_point_id, ids),
            )
            return {r["id"]: r["severity"] for r in await cur.fetchall()}
