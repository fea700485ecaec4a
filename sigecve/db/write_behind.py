"""Write-behind: rows kept in memory and written in one batch every half second, off the hot
path. For what a charger is not told was stored (its frames for the message log, the times
it was seen): one COPY for hundreds of rows instead of a statement each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Row = TypeVar("Row")


class WriteBehind(Generic[Row]):
    def __init__(
        self, write: Callable[[list[Row]], Awaitable[None]], what: str, interval_s: float = 0.5
    ) -> None:
        self._write = write
        self._what = what  # for the log: "OCPP log rows", "heartbeats"
        self.interval_s = interval_s
        self._rows: list[Row] = []
        self._task: asyncio.Task | None = None

    def add(self, row: Row) -> None:
        self._rows.append(row)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            await self._write(rows)
        except Exception:
            log.exception(
                "could not write %d %s; keeping them for the next try", len(rows), self._what
            )
            self._rows[:0] = rows

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()
