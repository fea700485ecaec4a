"""Requests that arrive together run one piece of work, and one arriving while that work runs
is not lost: it runs the work once more afterwards (an arrival committed while the previous
re-plan was reading the sessions would otherwise wait for the next timer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Coalesced:
    """`request()` runs `work` `delay_s` later; requests until it starts join that run, and
    requests while it runs make one more run after it."""

    def __init__(self, work: Callable[[], Awaitable[object]], delay_s: float) -> None:
        self._work = work
        self._delay_s = delay_s
        self._requested = False
        self._task: asyncio.Task | None = None

    def request(self) -> None:
        self._requested = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._requested:
            await asyncio.sleep(self._delay_s)
            self._requested = False
            with contextlib.suppress(Exception):  # the next request or timer tries again
                await self._work()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
