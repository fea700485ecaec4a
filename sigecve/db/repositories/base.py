"""Shared by the repositories: row helpers, id completions, deadlock-safe batch writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg.errors
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection

T = TypeVar("T")


Row = dict[str, Any]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def ids_starting_with(
    pool: AsyncConnectionPool, table: str, id_sql: str, prefix: str, limit: int, where: str = "TRUE"
) -> list[str]:
    """Ids (as text) beginning with `prefix`, in order: completions for ids being typed."""
    async with connection(pool) as conn:
        cur = await conn.execute(
            f"""SELECT {id_sql} AS id FROM {table}
                WHERE {where} AND starts_with({id_sql}, %s) ORDER BY {id_sql} LIMIT %s""",
            (prefix, limit),
        )
        return [r["id"] for r in await cur.fetchall()]


async def in_one_statement_else_each(
    write: Callable[[Sequence[T]], Awaitable[None]], items: Sequence[T]
) -> None:
    """`write` all the items in one statement; if PostgreSQL breaks a deadlock by failing it,
    each item in a statement of its own (one row locked: no deadlock possible)."""
    try:
        await write(items)
    except psycopg.errors.DeadlockDetected:
        for item in items:
            await write([item])


def fields_of(row: Row, model: type) -> Row:
    return {k: v for k, v in row.items() if k in model.model_fields}
