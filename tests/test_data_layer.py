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


async def test_a_connector_status_is_announced_when_first_seen_and_when_it_changes(
    repos, database_url
):
    """A repeated status (a reconnecting charger says again what it said before) is stored as
    an event but not announced on the live stream."""
    import json
    from datetime import UTC, datetime, timedelta

    from sigecve.domain import ConnectorStatus
    from sigecve.services.live_events import CHANNEL
    from tests.conftest import unique_id

    cp_id = unique_id("ANNOUNCE")
    await repos.charge_points.insert(cp_id, None, None)
    start = datetime.now(UTC)
    sent = [
        ("Available", "NoError"),
        ("Available", "NoError"),
        ("Charging", "NoError"),
        ("Charging", "NoError"),
        ("Faulted", "GroundFailure"),
        ("Faulted", "OverVoltage"),
    ]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {CHANNEL}")
        for i, (status, error_code) in enumerate(sent):
            await repos.connectors.record_status(
                cp_id,
                ConnectorStatus(
                    connector_id=1,
                    status=status,
                    error_code=error_code,
                    status_at=start + timedelta(seconds=i),
                ),
            )
        # Every notification of the statuses above is queued by now; this one marks the end.
        await listener.execute("SELECT pg_notify(%s, %s)", (CHANNEL, '{"type": "end"}'))
        announced = []
        async for notify in listener.notifies():
            event = json.loads(notify.payload)
            if event["type"] == "end":
                break
            if event.get("charge_point_id") == cp_id and event["type"] == "connector_status":
                announced.append((event["status"], event["error_code"]))
    assert announced == [
        ("Available", "NoError"),
        ("Charging", "NoError"),
        ("Faulted", "GroundFailure"),
        ("Faulted", "OverVoltage"),
    ]
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM status_events WHERE charge_point_id = %s", (cp_id,)
        )
        assert (await cur.fetchone())["n"] == len(sent)


async def test_a_meter_value_sent_again_is_stored_once(repos):
    """A charger whose MeterValues answer was lost sends it again: one row per reading."""
    from datetime import UTC, datetime

    from sigecve.domain import MeterSample
    from tests.conftest import unique_id

    cp_id = unique_id("MV")
    await repos.charge_points.insert(cp_id, None, None)
    at = datetime.now(UTC).replace(microsecond=0)
    reading = [
        MeterSample(connector_id=1, timestamp=at, value=1000, unit="Wh"),
        MeterSample(connector_id=1, timestamp=at, measurand="Power.Active.Import", value=7400),
        MeterSample(connector_id=1, timestamp=at, value=230, measurand="Voltage", phase="L1"),
        MeterSample(connector_id=1, timestamp=at, value=231, measurand="Voltage", phase="L2"),
    ]
    await repos.meter_values.add(cp_id, reading)
    await repos.meter_values.add(cp_id, reading)  # the resend
    await repos.meter_values.add(cp_id, [reading[0].model_copy(update={"connector_id": 2})])
    async with repos.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT connector_id, measurand, phase FROM meter_values WHERE charge_point_id = %s"
            " ORDER BY 1, 2, 3",
            (cp_id,),
        )
        rows = [tuple(r.values()) for r in await cur.fetchall()]
    assert rows == [
        (1, "Energy.Active.Import.Register", None),
        (1, "Power.Active.Import", None),
        (1, "Voltage", "L1"),
        (1, "Voltage", "L2"),
        (2, "Energy.Active.Import.Register", None),
    ]
