"""Write-behind batches: rows written together, and kept when a write fails."""

from __future__ import annotations

from sigecve.db.write_behind import WriteBehind


async def test_rows_are_written_in_one_batch_and_kept_when_the_write_fails():
    written: list[list[int]] = []
    failures = [RuntimeError("database away")]

    async def write(rows: list[int]) -> None:
        if failures:
            raise failures.pop()
        written.append(rows)

    batch = WriteBehind(write, "numbers")
    batch.add(1)
    batch.add(2)
    await batch.flush()  # fails: nothing written, nothing lost
    assert written == []
    batch.add(3)
    await batch.flush()
    assert written == [[1, 2, 3]]  # in the order they came
    await batch.flush()  # nothing new: no empty write
    assert written == [[1, 2, 3]]
