"""The audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
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
        where = (
            Filters()
            .where("token_id = {}", token_id)
            .where("interface = {}", interface)
            .where("at >= {}", since)
        )
        rows = await keyset_list(self.pool, "SELECT * FROM audit_log", where, order, after, limit)
        return [AuditEntry(**r) for r in rows]
