"""The audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.domain import (
    AuditEntry,
    Principal,
)


class AuditLogRepository:
    """Who changed what, through which interface, with what outcome."""

    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(
        self,
        *,
        principal: Principal | None,
        interface: str,
        method: str,
        target: str,
        status: int,
        details: dict | None,
    ) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO audit_log (token_id, token_name, role, interface, method, target,
                                          status, details)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    principal.token_id if principal else None,
                    principal.name if principal else None,
                    principal.role if principal else None,
                    interface,
                    method,
                    target,
                    status,
                    Jsonb(details) if details is not None else None,
                ),
            )

    async def list(
        self,
        *,
        token_id: int | None,
        interface: str | None,
        since: datetime | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[AuditEntry]:
        params: dict[str, Any] = {
            "token": token_id,
            "interface": interface,
            "since": since,
            "limit": limit,
        }
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM audit_log
                    WHERE (%(token)s::bigint IS NULL OR token_id = %(token)s)
                      AND (%(interface)s::text IS NULL OR interface = %(interface)s)
                      AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [AuditEntry(**r) for r in await cur.fetchall()]
