"""API tokens."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    ApiTokenInfo,
    Principal,
)


class ApiTokenRepository:
    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ensure(self, name: str, token_hash: str, role: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO api_tokens (name, token_hash, role) VALUES (%s, %s, %s)
                   ON CONFLICT (token_hash) DO NOTHING""",
                (name, token_hash, role),
            )

    async def insert(self, name: str, token_hash: str, role: str) -> ApiTokenInfo:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO api_tokens (name, token_hash, role) VALUES (%s, %s, %s)
                   RETURNING id, name, role, created_at, revoked_at""",
                (name, token_hash, role),
            )
            row = await cur.fetchone()
            assert row is not None
            return ApiTokenInfo(**row)

    async def principal_for(self, token_hash: str) -> Principal | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id AS token_id, name, role FROM api_tokens
                   WHERE token_hash = %s AND revoked_at IS NULL""",
                (token_hash,),
            )
            row = await cur.fetchone()
            return Principal(**row) if row else None

    async def role_for(self, token_hash: str) -> str | None:
        principal = await self.principal_for(token_hash)
        return principal.role if principal else None

    async def list(
        self, *, include_revoked: bool, order: KeysetOrder, after: Any, limit: int
    ) -> list[ApiTokenInfo]:
        where = Filters() if include_revoked else Filters().always("revoked_at IS NULL")
        select = "SELECT id, name, role, created_at, revoked_at FROM api_tokens"
        rows = await keyset_list(self.pool, select, where, order, after, limit)
        return [ApiTokenInfo(**r) for r in rows]

    async def revoke(self, token_id: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE api_tokens SET revoked_at = now()
                   WHERE id = %s AND revoked_at IS NULL""",
                (token_id,),
            )
            return cur.rowcount == 1
