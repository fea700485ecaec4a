"""Group commit: many charge points' messages share one transaction and one WAL flush.

A unit of work (handling one OCPP message) runs on a batch's connection inside its own
savepoint; whatever it wants to do once its data is durable (sending the CALLRESULT) is held
until the batch commits. So a reply still never goes out before its data is committed, but
under load a hundred messages cost one commit instead of a hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")

# The batch connection while a unit of work runs, and what the unit does after the commit.
_current_connection: ContextVar[AsyncConnection | None] = ContextVar("connection", default=None)
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("after", default=None)


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
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future]] = (
            asyncio.Queue()
        )
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]
        self.batches = 0
        self.units = 0
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

    async def _run_batch(self, batch: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future]]):
        outcomes: list[tuple[asyncio.Future, bool, Any, list[Callable[[], None]]]] = []
        async with self.pool.connection() as conn:
            async with conn.transaction():
                for unit, future in batch:
                    held: list[Callable[[], None]] = []
                    conn_token = _current_connection.set(conn)
                    held_token = _after_commit.set(held)
                    try:
                        async with conn.transaction():  # a savepoint: a failure stays local
                            result = await unit()
                        outcomes.append((future, True, result, held))
                    except Exception as e:
                        outcomes.append((future, False, e, []))
                    finally:
                        _after_commit.reset(held_token)
                        _current_connection.reset(conn_token)
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
