"""The live event stream: committed changes announced by PostgreSQL (NOTIFY on channel
`sigecve_live`, raised by triggers) fanned out to any number of subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Literal

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "sigecve_live"
# What the database triggers of migration 0007 announce.
EventType = Literal[
    "connection",
    "connector_status",
    "transaction_started",
    "transaction_stopped",
    "power",
    "alert_raised",
    "alert_cleared",
    "model_deployed",
]
SUBSCRIBER_QUEUE = 1000


class LiveFeed:
    """One LISTEN connection per process; every subscriber gets its own bounded queue."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    async for notify in conn.notifies():
                        self._publish(json.loads(notify.payload))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live feed: lost the database; listening again in 1 s")
                self._ready.clear()
                await asyncio.sleep(1)

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)  # tells the subscriber it lagged

    async def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue of every event committed from now on; `None` in it means the subscriber
        lagged and lost events (it should reconnect). Give it back with `unsubscribe`."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=30)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def matches(event: dict[str, Any], types: set[str], charge_point_id: str | None) -> bool:
    """Whether a subscriber that asked for `types` (empty: all) and one charge point wants it."""
    if types and event.get("type") not in types:
        return False
    return charge_point_id is None or event.get("charge_point_id") == charge_point_id


def sse_frame(event: dict[str, Any]) -> str:
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"
