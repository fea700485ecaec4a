"""The audit log: every write through REST or MCP, with who made it and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from sigecve.db.repositories import AuditLogRepository, Repositories
from sigecve.domain import AuditEntry, Principal
from sigecve.services.pagination import paginate

SECRET_FIELDS = frozenset({"password", "token", "authorization", "api_key"})
MAX_DETAIL_CHARS = 4000


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = None


def redact(value: Any) -> Any:
    """The request as it may be kept: secrets replaced, long strings cut (pure)."""
    if isinstance(value, dict):
        return {
            redact(str(k)): "***" if str(k).lower() in SECRET_FIELDS else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value[:100]]
    if isinstance(value, str):
        # PostgreSQL's jsonb cannot hold NUL: keep the request visible with it spelt out.
        value = value.replace("\x00", "\\u0000")
        return value[:MAX_DETAIL_CHARS] + "..." if len(value) > MAX_DETAIL_CHARS else value
    return value


async def record(
    repos: Repositories,
    *,
    principal: Principal | None,
    interface: str,
    method: str,
    target: str,
    status: int,
    details: dict | None = None,
) -> None:
    await repos.audit.add(
        principal=principal,
        interface=interface,
        method=method,
        target=target[:500],
        status=status,
        details=redact(details) if details is not None else None,
    )


async def list_audit_entries(
    repos: Repositories,
    *,
    token_id: int | None = None,
    interface: str | None = None,
    since: datetime | None = None,
    sort: str = "-id",
    cursor: str | None = None,
    limit: int = 100,
) -> AuditPage:
    items, next_cursor = await paginate(
        lambda **page: repos.audit.list(
            token_id=token_id, interface=interface, since=since, **page
        ),
        AuditLogRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return AuditPage(items=items, next_cursor=next_cursor)
