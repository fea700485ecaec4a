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
