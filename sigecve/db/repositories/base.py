"""Shared by the repositories: the one keyset list and its filter builder, row helpers, id
completions, deadlock-safe batch writes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg.errors
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder

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


@dataclass
class Filters:
    """A list's WHERE clauses, each only when its value is given: `{}` in a clause stands for
    the value's placeholder (pure). Absent filters are left out of the SQL, not tested there."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def where(self, clause: str, value: Any) -> Filters:
        if value is not None:
            name = f"_f{len(self.params)}"
            self.params[name] = value
            self.clauses.append(clause.replace("{}", f"%({name})s"))
        return self

    def always(self, clause: str) -> Filters:
        self.clauses.append(clause)
        return self


async def keyset_list(
    pool: AsyncConnectionPool,
    select: str,
    filters: Filters,
    order: KeysetOrder,
    after: Any,
    limit: int,
) -> list[Row]:
    """One page of `select` (SELECT ... FROM ..., no WHERE) after the cursor, in keyset order:
    the one way every list of the API pages."""
    params = {**filters.params, "_limit": limit}
    where = " AND ".join([*filters.clauses, order.where(after, params)])
    async with connection(pool) as conn:
        cur = await conn.execute(
            f"{select} WHERE {where} ORDER BY {order.order_by()} LIMIT %(_limit)s", params
        )
        return await cur.fetchall()
