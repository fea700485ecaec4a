"""The OCPP message log: every frame in and out, written in batches off the hot path."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

from sigecve.db.repositories import MessageLogRepository
from sigecve.db.write_behind import WriteBehind

log = logging.getLogger(__name__)


def storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: a frame carrying one is kept with U+FFFD in its place."""
    return text.replace("\x00", "\ufffd") if text is not None and "\x00" in text else text


def describe_frame(frame: str) -> tuple[int | None, str | None, str | None]:
    """(message type, unique id, action) of an OCPP-J frame, as far as it can be read (pure)."""
    try:
        msg = json.loads(frame)
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(msg, list) or not msg or not isinstance(msg[0], int):
        return None, None, None
    unique_id = msg[1] if len(msg) > 1 and isinstance(msg[1], str) else None
    # CALL, or 2.1's SEND (6): the two that name an action.
    action = msg[2] if msg[0] in (2, 6) and len(msg) > 2 and isinstance(msg[2], str) else None
    return msg[0], storable(unique_id), storable(action)


class MessageLogWriter:
    """Frames in and out, copied to PostgreSQL in batches (described at flush time, off the
    hot path)."""

    def __init__(self, repo: MessageLogRepository, interval_s: float = 0.5) -> None:
        self.repo = repo
        # (charge point, direction, frame, at)
        self.rows: WriteBehind[tuple[str, str, str, datetime]] = WriteBehind(
            self._write, "OCPP log rows", interval_s
        )

    def record(self, charge_point_id: str, direction: str, frame: str) -> None:
        self.rows.add((charge_point_id, direction, frame, datetime.now(UTC)))

    async def _write(self, rows: list[tuple[str, str, str, datetime]]) -> None:
        await self.repo.add_many(
            [
                (cp, direction, *describe_frame(frame), storable(frame), at)
                for cp, direction, frame, at in rows
            ]
        )

    async def purge_forever(self, retention_days: float, every_s: float = 3600.0) -> None:
        """Delete frames older than the retention, now and then every `every_s` seconds."""
        while True:
            cutoff = datetime.now(UTC) - timedelta(days=retention_days)
            try:
                deleted = await self.repo.purge_older_than(cutoff)
                if deleted:
                    log.info("purged %d OCPP log frames older than %s", deleted, cutoff)
            except Exception:
                log.exception("purging the OCPP message log failed; trying again later")
            await asyncio.sleep(every_s)
