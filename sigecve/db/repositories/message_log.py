"""The OCPP message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, write_rows
from sigecve.db.repositories.base import Row


class MessageLogRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add_many(
        self, rows: Sequence[tuple[str, str, int | None, str | None, str | None, str, datetime]]
    ) -> None:
        """rows: (charge_point_id, direction, message_type, unique_id, action, frame, at)."""
        if not rows:
            return
        async with connection(self.pool) as conn:
            await write_rows(
                conn,
                """COPY ocpp_messages (charge_point_id, direction, message_type, unique_id, action,
                                   frame, at) FROM STDIN""",
                rows,
            )

    async def purge_older_than(self, cutoff: datetime, batch: int = 10_000) -> int:
        """Delete frames logged before `cutoff`, in batches; the number deleted."""
        deleted = 0
        while True:
            async with connection(self.pool) as conn:
                cur = await conn.execute(
                    """DELETE FROM ocpp_messages WHERE id IN (
                           SELECT id FROM ocpp_messages WHERE at < %s LIMIT %s)""",
                    (cutoff, batch),
                )
            deleted += cur.rowcount
            if cur.rowcount < batch:
                return deleted

    async def recent(
        self, charge_point_id: str, limit: int = 100, *, call_errors_only: bool = False
    ) -> list[Row]:
        """The newest frames to and from a charger, newest first (only CALLERRORs if asked)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT direction, message_type, unique_id, action, frame, at
                   FROM ocpp_messages WHERE charge_point_id = %s
                     AND (NOT %s OR message_type = 4)
                   ORDER BY id DESC LIMIT %s""",
                (charge_point_id, call_errors_only, limit),
            )
            return await cur.fetchall()
