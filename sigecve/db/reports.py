"""Reporting queries: energy and revenue per site and day, uptime, failed starts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection

Row = dict[str, Any]

# Statuses in which a connector cannot charge (NEVI: not "operational").
DOWN_STATUSES = ("Faulted", "Unavailable")
# Statuses in which a connector is in use by a vehicle.
BUSY_STATUSES = ("Charging", "SuspendedEV", "SuspendedEVSE", "Occupied", "Finishing")
# A stopped session that delivered less than this did not really charge.
FAILED_START_MAX_WH = 10


class ReportRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def energy_by_site_day(
        self, start: datetime, end: datetime, site_id: str | None
    ) -> list[Row]:
        """Sessions, energy and revenue (the site's flat tariff) per site and UTC day of start."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """WITH tx AS (
                       SELECT cp.site_id, t.started_at,
                              COALESCE(t.meter_stop_wh,
                                       (SELECT max(m.value) FROM meter_values m
                                         WHERE m.transaction_id = t.transaction_id
                                           AND m.measurand = 'Energy.Active.Import.Register'
                                           AND m.phase IS NULL),
                                       t.meter_start_wh) - t.meter_start_wh AS energy_wh
                       FROM transactions t JOIN charge_points cp ON cp.id = t.charge_point_id
                       WHERE t.started_at >= %(start)s AND t.started_at < %(end)s
                         AND (%(site)s::text IS NULL OR cp.site_id = %(site)s))
                   SELECT tx.site_id, (date_trunc('day', tx.started_at AT TIME ZONE 'UTC'))::date
                              AS day,
                          count(*) AS sessions,
                          round((sum(greatest(tx.energy_wh, 0)) / 1000.0)::numeric, 3)::float
                              AS energy_kwh,
                          s.price_per_kwh,
                          round((sum(greatest(tx.energy_wh, 0)) / 1000.0
                                 * s.price_per_kwh)::numeric, 2)::float AS revenue
                   FROM tx LEFT JOIN sites s ON s.id = tx.site_id
                   GROUP BY tx.site_id, day, s.price_per_kwh
                   ORDER BY tx.site_id NULLS LAST, day""",
                {"start": start, "end": end, "site": site_id},
            )
            return await cur.fetchall()

    async def uptime_by_charge_point(
        self, start: datetime, end: datetime, site_id: str | None
    ) -> list[Row]:
        """Seconds observed, up (able to charge) and busy per charge point, from the status
        history of its connectors (connector 0, the charger as a whole, is not a port)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """WITH cps AS (
                       SELECT id, site_id FROM charge_points
                       WHERE decommissioned_at IS NULL
                         AND (%(site)s::text IS NULL OR site_id = %(site)s)),
                   events AS (
                       SELECT e.charge_point_id, e.connector_id, e.status, e.timestamp, e.id
                       FROM status_events e JOIN cps ON cps.id = e.charge_point_id
                       WHERE e.connector_id > 0 AND e.timestamp >= %(start)s
                         AND e.timestamp < %(end)s
                       UNION ALL
                       SELECT * FROM (
                           SELECT DISTINCT ON (e.charge_point_id, e.connector_id)
                                  e.charge_point_id, e.connector_id, e.status, e.timestamp, e.id
                           FROM status_events e JOIN cps ON cps.id = e.charge_point_id
                           WHERE e.connector_id > 0 AND e.timestamp < %(start)s
                           ORDER BY e.charge_point_id, e.connector_id, e.timestamp DESC, e.id DESC
                       ) before_start),
                   spans AS (
                       SELECT charge_point_id, status,
                              greatest(timestamp, %(start)s) AS a,
                              least(COALESCE(lead(timestamp) OVER w, %(end)s), %(end)s) AS b,
                              timestamp >= %(start)s AND status = 'Faulted' AS fault_began
                       FROM events
                       WINDOW w AS (PARTITION BY charge_point_id, connector_id
                                    ORDER BY timestamp, id))
                   SELECT cps.id AS charge_point_id, cps.site_id,
                          COALESCE(sum(extract(epoch FROM s.b - s.a))
                                   FILTER (WHERE s.b > s.a), 0)::float AS observed_s,
                          COALESCE(sum(extract(epoch FROM s.b - s.a))
                                   FILTER (WHERE s.b > s.a
                                           AND s.status <> ALL(%(down)s)), 0)::float AS up_s,
                          COALESCE(sum(extract(epoch FROM s.b - s.a))
                                   FILTER (WHERE s.b > s.a
                                           AND s.status = ANY(%(busy)s)), 0)::float AS busy_s,
                          count(*) FILTER (WHERE s.fault_began) AS faults
                   FROM cps LEFT JOIN spans s ON s.charge_point_id = cps.id
                   GROUP BY cps.id, cps.site_id ORDER BY cps.id""",
                {
                    "start": start,
                    "end": end,
                    "site": site_id,
                    "down": list(DOWN_STATUSES),
                    "busy": list(BUSY_STATUSES),
                },
            )
            return await cur.fetchall()

    async def starts_by_charge_point(
        self, start: datetime, end: datetime, site_id: str | None
    ) -> list[Row]:
        """Starts and failed starts (refused tag, or ended having delivered almost nothing)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT cp.id AS charge_point_id, cp.site_id, count(t.transaction_id) AS starts,
                          count(t.transaction_id) FILTER (WHERE
                              t.start_id_tag_status IS DISTINCT FROM 'Accepted'
                                  AND t.start_id_tag_status IS NOT NULL
                              OR (t.stopped_at IS NOT NULL
                                  AND COALESCE(t.meter_stop_wh - t.meter_start_wh, 0)
                                      < %(min_wh)s)) AS failed_starts
                   FROM charge_points cp LEFT JOIN transactions t
                        ON t.charge_point_id = cp.id AND t.started_at >= %(start)s
                           AND t.started_at < %(end)s
                   WHERE cp.decommissioned_at IS NULL
                     AND (%(site)s::text IS NULL OR cp.site_id = %(site)s)
                   GROUP BY cp.id, cp.site_id ORDER BY cp.id""",
                {"start": start, "end": end, "site": site_id, "min_wh": FAILED_START_MAX_WH},
            )
            return await cur.fetchall()
