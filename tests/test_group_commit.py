"""Group commit on the real PostgreSQL: shared commits, isolated failures, replies after commit."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from sigecve.db.group_commit import GroupCommitter, after_commit, connection
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
