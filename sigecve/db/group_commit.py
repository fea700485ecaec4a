"""Group commit: many charge points' messages share one transaction and one WAL flush.

A unit of work (handling one OCPP message) runs on a batch's connection; whatever it wants to
do once its data is durable (sending the CALLRESULT) is held until the batch commits. So a
reply still never goes out before its data is committed, but under load a hundred messages
cost one commit instead of a hundred.

A batch is first run together: no savepoint per unit, and the rows units give `write_rows`
(meter values, events, connector statuses, boots) written once per statement at the end. If
a unit fails, or writing those rows does, the batch is rolled back and run again with a
savepoint per unit and each unit's rows written at once, so a failure stays with its unit.
Hence two rules for a unit: it may run twice, so anything it does besides database writes
goes through `after_commit`; and rows it gives `write_rows` may not be visible to its own
later statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")

# The batch connection while a unit of work runs, and what the unit does after the commit.
_current_connection: ContextVar[AsyncConnection | None] = ContextVar("connection", default=None)
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("after", default=None)
# While a batch runs together: the rows its units write, per statement.
_batch_rows: ContextVar[dict[str, list[tuple]] | None] = ContextVar("rows", default=None)


@contextlib.asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """The unit of work's connection when inside one, else a connection from the pool."""
    current = _current_connection.get()
    if current is not None:
        yield current
    else:
        async with pool.connection() as conn:
            yield conn


@contextlib.asynccontextmanager
async def transaction(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """A connection whose statements take effect together: inside a unit of work, the unit's
    (its savepoint already makes them one, and a savepoint more per repository call is two
    round trips more per message); else a pool connection in a transaction of its own."""
    current = _current_connection.get()
    if current is not None:
        yield current
    else:
        async with pool.connection() as conn, conn.transaction():
            yield conn


async def write_rows(conn: AsyncConnection, statement: str, rows: Sequence[tuple]) -> None:
    """`rows` written by `statement` on `conn`: by COPY for a `COPY ... FROM STDIN`, else by
    running the statement once with each column's values as one array (it reads them with
    `unnest(%s::text[], ...)`). In a batch run together, with every other unit's rows for the
    same statement, once, before the batch commits."""
    if not rows:
        return
    pending = _batch_rows.get()
    if pending is not None:
        pending.setdefault(statement, []).extend(rows)
        return
    async with conn.cursor() as cur:
        if statement.lstrip().upper().startswith("COPY"):
            async with cur.copy(statement) as copy:
                for row in rows:
                    await copy.write_row(row)
        else:
            # One statement however many rows: PostgreSQL plans it once, and psycopg sends
            # one message instead of one per row.
            await cur.execute(statement, [list(column) for column in zip(*rows, strict=True)])


def after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current unit of work is committed (at once outside of one)."""
    held = _after_commit.get()
    if held is None:
        action()
    else:
        held.append(action)


class GroupCommitter:
    def __init__(self, pool: AsyncConnectionPool, *, workers: int = 2, max_batch: int = 200):
        self.pool = pool
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]
        self.batches = 0
        self.units = 0
        self.reruns = 0  # batches run again unit by unit after a failure
        self._closed = False

    async def run(self, unit: Callable[[], Awaitable[T]]) -> T:
        """Run `unit` in the next batch; returns its result once the batch is committed."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((unit, future))
        return await future

    async def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._run_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the commit itself failed: nothing in the batch happened
                log.exception("group commit of %d units failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)

    async def _run_batch(self, batch: list[_Queued]):
        try:
            outcomes = await self._run_together(batch)
        except _UnitFailed:
            self.reruns += 1
            outcomes = await self._run_apart(batch)
        # Committed: release replies and results.
        self.batches += 1
        self.units += len(batch)
        for future, ok, value, held in outcomes:
            for action in held:
                action()
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def _run_together(self, batch: list[_Queued]):
        """The batch in one transaction, no savepoints, rows written once per statement;
        `_UnitFailed` (with everything rolled back) if any part of it failed."""
        outcomes: list[_Outcome] = []
        rows_by_statement: dict[str, list[tuple]] = {}
        rows_token = _batch_rows.set(rows_by_statement)
        try:
            async with self.pool.connection() as conn, conn.transaction():
                try:
                    for unit, future in batch:
                        held: list[Callable[[], None]] = []
                        result = await _run_unit(unit, conn, held)
                        outcomes.append((future, True, result, held))
                    _batch_rows.set(None)
                    for statement, rows in rows_by_statement.items():
                        await write_rows(conn, statement, rows)
                except Exception as e:
                    raise _UnitFailed from e
        finally:
            _batch_rows.reset(rows_token)
        return outcomes

    async def _run_apart(self, batch: list[_Queued]):
        """The batch in one transaction, each unit in a savepoint: a failure stays local."""
        outcomes: list[_Outcome] = []
        async with self.pool.connection() as conn, conn.transaction():
            for unit, future in batch:
                held: list[Callable[[], None]] = []
                try:
                    async with conn.transaction():
                        result = await _run_unit(unit, conn, held)
                    outcomes.append((future, True, result, held))
                except Exception as e:
                    outcomes.append((future, False, e, []))
        return outcomes


# A unit of work and the future its caller awaits.
_Queued = tuple[Callable[[], Awaitable[Any]], asyncio.Future]
# A unit's future, whether it succeeded, its result or exception, what it holds until commit.
_Outcome = tuple[asyncio.Future, bool, Any, list[Callable[[], None]]]


class _UnitFailed(Exception):
    """A unit of a batch run together failed: run the batch again, each unit apart."""


async def _run_unit(
    unit: Callable[[], Awaitable[T]], conn: AsyncConnection, held: list[Callable[[], None]]
) -> T:
    conn_token = _current_connection.set(conn)
    held_token = _after_commit.set(held)
    try:
        return await unit()
    finally:
        _after_commit.reset(held_token)
        _current_connection.reset(conn_token)
