"""Migrations and repositories on the real PostgreSQL."""

import psycopg

from sigecve.db.migrate import apply_migrations, available_migrations


def test_migrations_are_recorded_and_applying_again_changes_nothing(database_url):
    shipped = [v for v, _, _ in available_migrations()]
    assert shipped == sorted(set(shipped)) and shipped[0] == 1
    assert apply_migrations(database_url) == []  # the session fixture applied them all
    with psycopg.connect(database_url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert recorded == shipped
    assert {
        "charge_points",
        "connectors",
        "id_tags",
        "transactions",
        "meter_values",
        "ocpp_messages",
        "api_tokens",
    } <= tables


async def test_the_message_log_is_purged_by_age(repos):
    from datetime import UTC, datetime, timedelta

    from tests.conftest import unique_id

    cp_id = unique_id("LOG")
    now = datetime.now(UTC)
    await repos.message_log.add_many(
        [
            (
                cp_id,
                "in",
                2,
                "old",
                "Heartbeat",
                '[2,"old","Heartbeat",{}]',
                now - timedelta(days=40),
            ),
            (
                cp_id,
                "in",
                2,
                "new",
                "Heartbeat",
                '[2,"new","Heartbeat",{}]',
                now - timedelta(days=1),
            ),
        ]
    )
    assert await repos.message_log.purge_older_than(now - timedelta(days=30)) >= 1
    assert [r["unique_id"] for r in await repos.message_log.recent(cp_id)] == ["new"]


async def test_a_heartbeat_batch_does_not_wait_for_a_charger_row_held_elsewhere(
    repos, database_url
):
    """The batched heartbeat write touches many chargers' rows at once; waiting for one a
    group commit holds could deadlock with that batch. It skips that row instead (the charger
    is being booted or connected, which sets its last seen time) and keeps every event."""
    import asyncio
    from datetime import UTC, datetime

    from tests.conftest import unique_id

    held, free = unique_id("HELD"), unique_id("FREE")
    for cp_id in (held, free):
        await repos.charge_points.insert(cp_id, None, None)
    beat = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as other:
        async with other.transaction():
            await other.execute("SELECT 1 FROM charge_points WHERE id = %s FOR UPDATE", (held,))
            # A guard, not a pace: waiting for the row would never return while it is held.
            await asyncio.wait_for(
                repos.charge_points.record_heartbeats([(held, beat), (free, beat)]), 30
            )
    assert (await repos.charge_points.get(free)).last_seen_at == beat
    assert (await repos.charge_points.get(held)).last_seen_at != beat
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            """SELECT charge_point_id FROM connectivity_events
               WHERE event = 'heartbeat' AND charge_point_id = ANY(%s)""",
            ([held, free],),
        )
        assert sorted(r["charge_point_id"] for r in await cur.fetchall()) == sorted([held, free])
