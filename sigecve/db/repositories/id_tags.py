"""Id tags (RFID cards and other tokens)."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, fields_of, keyset_list
from sigecve.domain import (
    IdTag,
)


class IdTagRepository:
    SORTS = {"id_tag": ("id_tag", str)}
    ID = ("id_tag", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def insert(self, tag: IdTag) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, owner)
                   VALUES (%(id_tag)s, %(status)s, %(expiry_date)s, %(parent_id_tag)s, %(owner)s)
                   ON CONFLICT (id_tag) DO NOTHING""",
                tag.model_dump(),
            )
            return cur.rowcount == 1

    async def upsert(self, tag: IdTag) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, owner)
                   VALUES (%(id_tag)s, %(status)s, %(expiry_date)s, %(parent_id_tag)s, %(owner)s)
                   ON CONFLICT (id_tag) DO UPDATE SET status = EXCLUDED.status,
                       expiry_date = EXCLUDED.expiry_date,
                       parent_id_tag = EXCLUDED.parent_id_tag""",
                tag.model_dump(),
            )

    async def get(self, id_tag: str) -> IdTag | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id_tag, status, expiry_date, parent_id_tag, owner FROM id_tags
                   WHERE id_tag = %s""",
                (id_tag,),
            )
            row = await cur.fetchone()
            return IdTag(**row) if row else None

    async def list(
        self,
        *,
        status: str | None,
        parent_id_tag: str | None,
        q: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[IdTag]:
        where = (
            Filters()
            .where("status = {}", status)
            .where("parent_id_tag = {}", parent_id_tag)
            .where("strpos(lower(id_tag || ' ' || COALESCE(owner, '')), lower({})) > 0", q)
        )
        select = "SELECT id_tag, status, expiry_date, parent_id_tag, owner, created_at FROM id_tags"
        rows = await keyset_list(self.pool, select, where, order, after, limit)
        return [IdTag(**fields_of(r, IdTag)) for r in rows]

    async def update(self, id_tag: str, changes: dict[str, Any]) -> IdTag | None:
        if changes:
            sets = ", ".join(f"{name} = %({name})s" for name in changes)
            async with connection(self.pool) as conn:
                await conn.execute(
                    f"UPDATE id_tags SET {sets} WHERE id_tag = %(_id)s", {**changes, "_id": id_tag}
                )
        return await self.get(id_tag)

    async def delete(self, id_tag: str) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute("DELETE FROM id_tags WHERE id_tag = %s", (id_tag,))
            return cur.rowcount == 1
