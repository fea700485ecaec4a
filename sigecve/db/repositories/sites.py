"""Sites (grid limit, tariff, price and limit schedules) and session demands."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, Row, ids_starting_with, keyset_list
from sigecve.db.repositories.transactions import TRANSACTION_COLUMNS
from sigecve.domain import (
    LimitSchedule,
    LoadSample,
    PriceSchedule,
    SessionDemand,
    Site,
    V2XCapability,
)

SITE_COLUMNS = """id, name, max_power_kw, price_per_kwh, smart_charging, max_export_kw,
                  export_price_per_kwh, battery_wear_cost_per_kwh, price_schedule,
                  limit_schedule"""


class SiteRepository:
    SORTS = {"id": ("id", str)}
    ID = ("id", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        return await ids_starting_with(self.pool, "sites", "id", prefix, limit)

    async def insert(self, site: Site) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO sites (id, name, max_power_kw, price_per_kwh, smart_charging,
                                      max_export_kw, export_price_per_kwh,
                                      battery_wear_cost_per_kwh, price_schedule, limit_schedule)
                   VALUES (%(id)s, %(name)s, %(max_power_kw)s, %(price_per_kwh)s,
                           %(smart_charging)s, %(max_export_kw)s, %(export_price_per_kwh)s,
                           %(battery_wear_cost_per_kwh)s, %(price_schedule)s,
                           %(limit_schedule)s)
                   ON CONFLICT (id) DO NOTHING""",
                {
                    **site.model_dump(),
                    "price_schedule": Jsonb(site.model_dump(mode="json")["price_schedule"]),
                    "limit_schedule": Jsonb(site.model_dump(mode="json")["limit_schedule"]),
                },
            )
            return cur.rowcount == 1

    async def load(self, site_id: str, day: date) -> list[LoadSample]:
        """The day's load in 15-minute intervals: each charger's mean sampled active power
        (total, not per phase), summed over the site's chargers."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """WITH per_charger AS (
                       SELECT date_bin('15 minutes', mv.timestamp, %(start)s) AS at,
                              avg(CASE WHEN mv.unit = 'kW' THEN mv.value
                                       ELSE mv.value / 1000 END) AS power_kw
                       FROM meter_values mv
                       JOIN charge_points cp ON cp.id = mv.charge_point_id
                       WHERE cp.site_id = %(site_id)s
                         AND mv.measurand = 'Power.Active.Import' AND mv.phase IS NULL
                         AND mv.timestamp >= %(start)s
                         AND mv.timestamp < %(start)s + interval '1 day'
                       GROUP BY 1, mv.charge_point_id)
                   SELECT at, sum(power_kw) AS power_kw FROM per_charger
                   GROUP BY at ORDER BY at""",
                {"site_id": site_id, "start": datetime.combine(day, time.min, tzinfo=UTC)},
            )
            return [LoadSample(**row) for row in await cur.fetchall()]

    async def get(self, site_id: str) -> Site | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"SELECT {SITE_COLUMNS} FROM sites WHERE id = %s",
                (site_id,),
            )
            row = await cur.fetchone()
            return Site(**row) if row else None

    async def set_schedules(
        self,
        site_id: str,
        *,
        prices: PriceSchedule | None = None,
        limits: LimitSchedule | None = None,
    ) -> bool:
        def as_json(schedule: PriceSchedule | LimitSchedule | None) -> Jsonb | None:
            if schedule is None:
                return None
            return Jsonb([step.model_dump(mode="json") for step in schedule.steps])

        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE sites SET price_schedule = COALESCE(%s, price_schedule),
                                    limit_schedule = COALESCE(%s, limit_schedule)
                   WHERE id = %s""",
                (as_json(prices), as_json(limits), site_id),
            )
            return cur.rowcount == 1

    async def ids(self) -> list[str]:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT id FROM sites ORDER BY id")
            return [r["id"] for r in await cur.fetchall()]

    async def list(self, *, order: KeysetOrder, after: Any, limit: int) -> list[Site]:
        select = f"SELECT {SITE_COLUMNS} FROM sites"
        rows = await keyset_list(self.pool, select, Filters(), order, after, limit)
        return [Site(**r) for r in rows]

    async def update(self, site_id: str, changes: dict[str, Any]) -> bool:
        if not changes:
            return await self.get(site_id) is not None
        sets = ", ".join(f"{name} = %({name})s" for name in changes)
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"UPDATE sites SET {sets} WHERE id = %(_id)s", {**changes, "_id": site_id}
            )
            return cur.rowcount == 1

    async def delete_if_empty(self, site_id: str) -> str:
        """'deleted', 'missing' or 'in_use' (charge points still belong to it)."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM charge_points WHERE site_id = %s "
                "AND decommissioned_at IS NULL",
                (site_id,),
            )
            row = await cur.fetchone()
            if row and row["n"]:
                return "in_use"
            cur = await conn.execute("DELETE FROM sites WHERE id = %s", (site_id,))
            return "deleted" if cur.rowcount else "missing"

    async def set_limit(self, site_id: str, max_power_kw: float) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "UPDATE sites SET max_power_kw = %s WHERE id = %s", (max_power_kw, site_id)
            )
            return cur.rowcount == 1

    async def charging_sessions(self, site_id: str) -> list[Row]:
        """The site's open transactions with what planning needs about them and their charger."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT {TRANSACTION_COLUMNS}, cp.max_power_kw AS cp_max_power_kw,
                           cp.phases, cp.charging_rate_unit, d.target_energy_kwh,
                           d.departure_at, d.ev_max_power_kw, d.priority, d.charge_now, d.v2x
                    FROM transactions t JOIN charge_points cp ON cp.id = t.charge_point_id
                    LEFT JOIN session_demands d ON d.transaction_id = t.transaction_id
                    WHERE cp.site_id = %s AND t.stopped_at IS NULL AND cp.connected
                    ORDER BY t.transaction_id""",
                (site_id,),
            )
            return await cur.fetchall()

    async def typical_session(self, site_id: str, since: datetime, min_wh: int) -> Row:
        """Count and medians (energy, minutes) of the site's sessions ended since `since` that
        delivered at least `min_wh`."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT count(*) AS sessions,
                          percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY (t.meter_stop_wh - t.meter_start_wh) / 1000.0)
                              AS median_kwh,
                          percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY extract(epoch FROM t.stopped_at - t.started_at) / 60)
                              AS median_minutes
                   FROM transactions t JOIN charge_points cp ON cp.id = t.charge_point_id
                   WHERE cp.site_id = %s AND t.stopped_at >= %s
                     AND t.meter_stop_wh - t.meter_start_wh >= %s""",
                (site_id, since, min_wh),
            )
            row = await cur.fetchone()
            assert row is not None
            return row

    async def sessions_started_between(
        self, site_id: str, start: datetime, end: datetime
    ) -> list[Row]:
        """The site's sessions begun in [start, end): when, how long, how much, on what."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT t.started_at, t.stopped_at, cp.max_power_kw AS cp_max_power_kw,
                          greatest(COALESCE(t.meter_stop_wh - t.meter_start_wh, 0), 0) / 1000.0
                              AS energy_kwh
                   FROM transactions t JOIN charge_points cp ON cp.id = t.charge_point_id
                   WHERE cp.site_id = %s AND t.started_at >= %s AND t.started_at < %s
                   ORDER BY t.started_at""",
                (site_id, start, end),
            )
            return await cur.fetchall()

    async def finished_sessions(self, site_id: str, since: datetime) -> list[Row]:
        """The site's sessions begun since `since` and ended: who, from when to when (the
        history departures are guessed from)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT t.id_tag, t.started_at, t.stopped_at
                   FROM transactions t JOIN charge_points cp ON cp.id = t.charge_point_id
                   WHERE cp.site_id = %s AND t.started_at >= %s AND t.stopped_at IS NOT NULL
                   ORDER BY t.started_at""",
                (site_id, since),
            )
            return await cur.fetchall()

    async def site_of(self, charge_point_id: str) -> str | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT cp.site_id FROM charge_points cp JOIN sites s ON s.id = cp.site_id
                   WHERE cp.id = %s""",
                (charge_point_id,),
            )
            row = await cur.fetchone()
            return row["site_id"] if row else None


class SessionDemandRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def upsert(
        self,
        transaction_id: int,
        demand: SessionDemand,
        source: str,
        v2x: V2XCapability | None = None,
    ) -> None:
        """Store a session's demand (unset fields keep theirs), with what its EV may give back
        when it said (a 2.1 EV's V2X parameters)."""
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO session_demands (transaction_id, target_energy_kwh, departure_at,
                                                ev_max_power_kw, priority, charge_now, v2x,
                                                source)
                   VALUES (%(id)s, %(target_energy_kwh)s, %(departure_at)s, %(ev_max_power_kw)s,
                           %(priority)s, %(charge_now)s, %(v2x)s, %(source)s)
                   ON CONFLICT (transaction_id) DO UPDATE SET
                       target_energy_kwh = COALESCE(EXCLUDED.target_energy_kwh,
                                                    session_demands.target_energy_kwh),
                       departure_at = COALESCE(EXCLUDED.departure_at, session_demands.departure_at),
                       ev_max_power_kw = COALESCE(EXCLUDED.ev_max_power_kw,
                                                  session_demands.ev_max_power_kw),
                       priority = COALESCE(EXCLUDED.priority, session_demands.priority),
                       charge_now = COALESCE(EXCLUDED.charge_now, session_demands.charge_now),
                       v2x = COALESCE(EXCLUDED.v2x, session_demands.v2x),
                       source = EXCLUDED.source, updated_at = now()""",
                {
                    "id": transaction_id,
                    "source": source,
                    "v2x": Jsonb(v2x.model_dump()) if v2x else None,
                    **demand.model_dump(),
                },
            )

    async def open_transaction_on(self, charge_point_id: str, connector_id: int) -> int | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT transaction_id FROM transactions WHERE charge_point_id = %s
                   AND connector_id = %s AND stopped_at IS NULL
                   ORDER BY started_at DESC LIMIT 1""",
                (charge_point_id, connector_id),
            )
            row = await cur.fetchone()
            return int(row["transaction_id"]) if row else None

    async def open_transaction(self, transaction_id: int) -> Row | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT t.transaction_id, t.charge_point_id, cp.site_id FROM transactions t
                   JOIN charge_points cp ON cp.id = t.charge_point_id
                   WHERE t.transaction_id = %s AND t.stopped_at IS NULL""",
                (transaction_id,),
            )
            return await cur.fetchone()
