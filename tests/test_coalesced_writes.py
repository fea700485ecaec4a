"""Coalesced writes: items queued during a write go together in the next one."""

from __future__ import annotations

import asyncio

import pytest

from sigecve.db.coalesced_writes import CoalescedWrites


async def test_items_queued_during_a_write_go_together_in_the_next():
    written: list[list[int]] = []
    release = asyncio.Event()

    async def write(items: list[int]) -> None:
        written.append(items)
        await release.wait()

    writes = CoalescedWrites(write)
    first = asyncio.create_task(writes.write(1))
    await asyncio.sleep(0)  # the first write is in flight
    rest = [asyncio.create_task(writes.write(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert written == [[1]]
    release.set()
    await asyncio.gather(first, *rest)
    assert written == [[1], [2, 3, 4]]


async def test_every_caller_of_a_failed_write_gets_its_error_and_later_writes_go_on():
    failures = [RuntimeError("database away")]
    written: list[list[str]] = []

    async def write(items: list[str]) -> None:
        if failures:
            raise failures.pop()
        written.append(items)

    writes = CoalescedWrites(write)
    results = await asyncio.gather(writes.write("a"), writes.write("b"), return_exceptions=True)
    assert [str(r) for r in results] == ["database away", "database away"]
    await writes.write("c")
    assert written == [["c"]]


async def test_an_item_is_written_when_its_caller_stops_waiting():
    written: list[list[int]] = []
    release = asyncio.Event()

    async def write(items: list[int]) -> None:
        await release.wait()
        written.append(items)

    writes = CoalescedWrites(write)
    waiting = asyncio.create_task(writes.write(1))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await writes.close()
    assert written == [[1]]
