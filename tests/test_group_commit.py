"""Group commit on the real PostgreSQL: shared commits, isolated failures, replies after commit,
rows COPYed once per batch, and a batch run again unit by unit when one of its units fails."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from sigecve.db.group_commit import GroupCommitter, after_commit, connection, write_rows
from tests.conftest import unique_id


@pytest.fixture
async def committer(repos):
    c = GroupCommitter(repos.pool, workers=1)
    yield c
    await c.close()


async def insert_tag(pool, tag: str) -> str:
    async with connection(pool) as conn:
        await conn.execute("INSERT INTO id_tags (id_tag, status) VALUES (%s, 'Accepted')", (tag,))
    return tag


async def test_concurrent_units_share_commits_and_a_failure_stays_local(committer, repos):
    tags = [unique_id("GC")[:20] for _ in range(50)]
    duplicate = tags[0]
    await insert_tag(repos.pool, duplicate)  # so the unit inserting it again fails
    results = await asyncio.gather(
        *(committer.run(lambda t=t: insert_tag(repos.pool, t)) for t in tags),
        return_exceptions=True,
    )
    assert isinstance(results[0], psycopg.errors.UniqueViolation)
    assert results[1:] == tags[1:]
    assert committer.units == 50 and committer.batches < 50  # batched
    for tag in tags[1:]:
        assert await repos.id_tags.get(tag) is not None


async def test_what_follows_a_unit_runs_only_once_its_data_is_committed(
    committer, repos, database_url
):
    tag = unique_id("AC")[:20]
    seen_by_another_session = []

    def reply() -> None:
        with psycopg.connect(database_url) as other:
            row = other.execute("SELECT 1 FROM id_tags WHERE id_tag = %s", (tag,)).fetchone()
        seen_by_another_session.append(row is not None)

    async def unit() -> None:
        await insert_tag(repos.pool, tag)
        after_commit(reply)
        assert seen_by_another_session == []  # held while the batch is open

    await committer.run(unit)
    assert seen_by_another_session == [True]


async def test_outside_a_unit_actions_run_at_once():
    ran = []
    after_commit(lambda: ran.append(1))
    assert ran == [1]


# `write_rows` takes both: rows by COPY, or a statement given each column as an array.
ROW_STATEMENTS = [
    "COPY group_commit_rows (tag, n) FROM STDIN",
    "INSERT INTO group_commit_rows (tag, n) SELECT * FROM unnest(%s::text[], %s::integer[])",
]


@pytest.fixture(params=ROW_STATEMENTS, ids=["copy", "insert"])
def row_statement(request) -> str:
    return request.param


@pytest.fixture
async def written_rows(repos):
    """A table units write into (n may not be negative); returns a counter of rows by tag."""
    async with connection(repos.pool) as conn:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS group_commit_rows (
                   tag text NOT NULL, n integer NOT NULL CHECK (n >= 0))"""
        )

    async def count(tag: str) -> int:
        async with connection(repos.pool) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM group_commit_rows WHERE tag = %s", (tag,)
            )
            row = await cur.fetchone()
        assert row is not None
        return row["count"]

    return count


def writing_unit(repos, statement: str, tag: str, n: int, replies: list[str], fail: bool = False):
    async def unit() -> str:
        async with connection(repos.pool) as conn:
            await write_rows(conn, statement, [(tag, n), (tag, n + 1)])
        after_commit(lambda: replies.append(tag))
        if fail:
            raise ValueError(f"{tag} refused")
        return tag

    return unit


async def test_units_rows_are_written_once_per_batch_and_a_clean_batch_runs_once(
    committer, repos, written_rows, row_statement
):
    tags = [unique_id("CP") for _ in range(30)]
    replies: list[str] = []
    results = await asyncio.gather(
        *(committer.run(writing_unit(repos, row_statement, t, 1, replies)) for t in tags)
    )
    assert results == tags
    assert committer.reruns == 0 and committer.batches < 30
    assert sorted(replies) == sorted(tags)
    assert [await written_rows(t) for t in tags] == [2] * 30


async def test_a_failing_unit_makes_its_batch_run_again_and_only_its_work_is_lost(
    committer, repos, written_rows, row_statement
):
    tags = [unique_id("CP") for _ in range(30)]
    failing = tags[7]
    replies: list[str] = []
    results = await asyncio.gather(
        *(
            committer.run(writing_unit(repos, row_statement, t, 1, replies, fail=t == failing))
            for t in tags
        ),
        return_exceptions=True,
    )
    assert isinstance(results[7], ValueError)
    assert results[:7] + results[8:] == tags[:7] + tags[8:]
    assert committer.reruns >= 1
    # Run twice, yet each reply went out once and each row was written once.
    assert sorted(replies) == sorted(tags[:7] + tags[8:])
    assert [await written_rows(t) for t in tags] == [2] * 7 + [0] + [2] * 22


async def test_rows_the_table_refuses_fail_only_the_unit_that_gave_them(
    committer, repos, written_rows, row_statement
):
    tags = [unique_id("CP") for _ in range(10)]
    replies: list[str] = []
    results = await asyncio.gather(
        *(
            committer.run(writing_unit(repos, row_statement, t, -1 if i == 3 else 1, replies))
            for i, t in enumerate(tags)
        ),
        return_exceptions=True,
    )
    # Together, the refusal comes with the batch's rows; apart, with the unit's own.
    assert isinstance(results[3], psycopg.errors.CheckViolation)
    assert results[:3] + results[4:] == tags[:3] + tags[4:]
    assert sorted(replies) == sorted(tags[:3] + tags[4:])
    assert [await written_rows(t) for t in tags] == [2] * 3 + [0] + [2] * 6


async def test_two_statuses_of_one_connector_in_one_batch_keep_the_newer(committer, repos):
    """One statement upserts a batch's statuses, and PostgreSQL refuses one that updates a row
    twice: the batch is run again unit by unit, and every status is still stored."""
    from datetime import UTC, datetime, timedelta

    from sigecve.domain import ConnectorStatus

    cp_id = unique_id("TWICE")
    await repos.charge_points.insert(cp_id, None, None)
    now = datetime.now(UTC)
    statuses = [
        ConnectorStatus(connector_id=1, status="Charging", status_at=now + timedelta(seconds=1)),
        ConnectorStatus(connector_id=1, status="Preparing", status_at=now),
    ]
    await asyncio.gather(
        *(committer.run(lambda s=s: repos.connectors.record_status(cp_id, s)) for s in statuses)
    )
    assert committer.batches == 1 and committer.reruns == 1
    async with connection(repos.pool) as conn:
        cur = await conn.execute(
            "SELECT status FROM connectors WHERE charge_point_id = %s", (cp_id,)
        )
        assert [r["status"] for r in await cur.fetchall()] == ["Charging"]
        cur = await conn.execute(
            "SELECT count(*) FROM status_events WHERE charge_point_id = %s", (cp_id,)
        )
        assert (await cur.fetchone())["count"] == 2
