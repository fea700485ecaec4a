"""Local authorisation lists: the id tag changes they are built from, and each charger's
sync state."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.repositories.base import Row


class LocalListRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def state(self, charge_point_id: str) -> Row | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT s.*, (SELECT count(DISTINCT c.id_tag) FROM id_tag_changes c
                                WHERE c.seq > s.through_seq) AS pending_changes
                   FROM local_list_sync s WHERE charge_point_id = %s""",
                (charge_point_id,),
            )
            return await cur.fetchone()

    async def last_change(self) -> int:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT COALESCE(max(seq), 0) AS seq FROM id_tag_changes")
            row = await cur.fetchone()
            return int(row["seq"]) if row else 0

    async def tag_count(self) -> int:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM id_tags")
            row = await cur.fetchone()
            return int(row["n"]) if row else 0

    async def all_tags(self, limit: int) -> list[Row]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id_tag, status, expiry_date, parent_id_tag FROM id_tags
                   ORDER BY id_tag LIMIT %s""",
                (limit,),
            )
            return await cur.fetchall()

    async def changes(self, after_seq: int, through_seq: int) -> list[Row]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id_tag, status, expiry_date, parent_id_tag FROM id_tag_changes
                   WHERE seq > %s AND seq <= %s ORDER BY seq""",
                (after_seq, through_seq),
            )
            return await cur.fetchall()

    async def synced(
        self, charge_point_id: str, version: int, through_seq: int, update_type: str
    ) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO local_list_sync (charge_point_id, version, through_seq,
                       update_type, synced_at, last_status, last_attempt_at)
                   VALUES (%s, %s, %s, %s, now(), 'Accepted', now())
                   ON CONFLICT (charge_point_id) DO UPDATE SET version = EXCLUDED.version,
                       through_seq = EXCLUDED.through_seq, update_type = EXCLUDED.update_type,
                       synced_at = now(), last_status = 'Accepted', last_attempt_at = now(),
                       charger_version = EXCLUDED.version, checked_at = now()""",
                (charge_point_id, version, through_seq, update_type),
            )

    async def attempted(self, charge_point_id: str, status: str) -> None:
        """An update the charger did not take: its answer, the sync state as it was."""
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE local_list_sync SET last_status = %s, last_attempt_at = now()
                   WHERE charge_point_id = %s""",
                (status, charge_point_id),
            )

    async def checked(self, charge_point_id: str, charger_version: int) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE local_list_sync SET charger_version = %s, checked_at = now()
                   WHERE charge_point_id = %s""",
                (charger_version, charge_point_id),
            )
