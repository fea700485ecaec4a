"""Coalesced writes: what arrives while a write is in flight goes in the next one, together.

No fixed delay (unlike write-behind), so one item alone is written at once; under load each
statement carries everything that queued meanwhile. Its caller waits for the write that
carries its item, and gets its error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class CoalescedWrites(Generic[Item]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[None]]) -> None:
        self._write = write
        self._queued: list[tuple[Item, asyncio.Future[None]]] = []
        self._writer: asyncio.Task | None = None

    async def write(self, item: Item) -> None:
        """Returns once a write carrying `item` has succeeded; raises its error if it failed.
        The item is written even if the caller stops waiting."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((item, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await asyncio.shield(written)

    async def _write_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await self._write([item for item, _ in batch])
            except Exception as e:
                for _, written in batch:
                    written.set_exception(e)
                    written.exception()  # retrieved: nobody may be waiting any more
            else:
                for _, written in batch:
                    written.set_result(None)

    async def close(self) -> None:
        """Wait for the writes under way."""
        if self._writer is not None:
            await self._writer
