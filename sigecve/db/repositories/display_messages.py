"""Messages on stations' displays."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.domain import DisplayMessage


class DisplayMessageRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def next_id(self, charge_point_id: str) -> int:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT COALESCE(max(id), 0) + 1 AS id FROM display_messages "
                "WHERE charge_point_id = %s",
                (charge_point_id,),
            )
            row = await cur.fetchone()
            return int(row["id"]) if row else 1

    async def store(self, messages: list[DisplayMessage]) -> None:
        """As set or as the station reported them: the newest word wins, a cleared one
        reported again is shown again."""
        if not messages:
            return
        async with connection(self.pool) as conn, conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO display_messages (charge_point_id, id, priority, state,
                           format, language, content, starts_at, ends_at, transaction_id,
                           status)
                       VALUES (%(charge_point_id)s, %(id)s, %(priority)s, %(state)s,
                               %(format)s, %(language)s, %(content)s, %(starts_at)s,
                               %(ends_at)s, %(transaction_id)s, %(status)s)
                       ON CONFLICT (charge_point_id, id) DO UPDATE SET
                           priority = EXCLUDED.priority, state = EXCLUDED.state,
                           format = EXCLUDED.format, language = EXCLUDED.language,
                           content = EXCLUDED.content, starts_at = EXCLUDED.starts_at,
                           ends_at = EXCLUDED.ends_at, transaction_id = EXCLUDED.transaction_id,
                           status = EXCLUDED.status, updated_at = now(), cleared_at = NULL""",
                [m.model_dump() for m in messages],
            )

    async def cleared(self, charge_point_id: str, message_id: int) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE display_messages SET cleared_at = now()
                   WHERE charge_point_id = %s AND id = %s""",
                (charge_point_id, message_id),
            )

    async def of(self, charge_point_id: str) -> list[DisplayMessage]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT * FROM display_messages
                   WHERE charge_point_id = %s AND cleared_at IS NULL ORDER BY id""",
                (charge_point_id,),
            )
            return [DisplayMessage.model_validate(r) for r in await cur.fetchall()]
