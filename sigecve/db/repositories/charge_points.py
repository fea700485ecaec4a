"""Charge points, their connectors and their connection events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction, write_rows
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import (
    Filters,
    Row,
    fields_of,
    ids_starting_with,
    in_one_statement_else_each,
    keyset_list,
)
from sigecve.db.repositories.transactions import TRANSACTION_COLUMNS, transaction_of
from sigecve.domain import (
    ChargePoint,
    ChargePointSummary,
    ConnectorProblem,
    ConnectorStatus,
)


class ChargePointArrival(NamedTuple):
    """A charge point's new connection, as recorded when it is admitted."""

    charge_point_id: str
    protocol: str
    connection_id: str


@dataclass(frozen=True)
class ChargePointFilter:
    site_id: str | None = None
    connected: bool | None = None
    protocol: str | None = None
    status: str | None = None
    q: str | None = None
    include_decommissioned: bool = False


class ChargePointRepository:
    SORTS = {
        "id": ("cp.id", str),
        "last_seen_at": ("COALESCE(cp.last_seen_at, 'epoch')", datetime),
        "registered_at": ("cp.registered_at", datetime),
    }
    ID = ("cp.id", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        return await ids_starting_with(
            self.pool, "charge_points", "id", prefix, limit, "decommissioned_at IS NULL"
        )

    async def get_row(self, charge_point_id: str) -> Row | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT * FROM charge_points WHERE id = %s", (charge_point_id,)
            )
            return await cur.fetchone()

    async def get_rows(self, charge_point_ids: Iterable[str]) -> dict[str, Row]:
        """The registered ones among `charge_point_ids`, by id (one query)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT * FROM charge_points WHERE id = ANY(%s)", (list(charge_point_ids),)
            )
            return {row["id"]: row for row in await cur.fetchall()}

    async def insert(
        self,
        charge_point_id: str,
        password_hash: str | None,
        site_id: str | None,
        registration_status: str = "Accepted",
    ) -> bool:
        """Register a charge point (again, if it was decommissioned); False if one with that id
        is in service. `registration_status`: Pending or Rejected for one that came unasked
        and waits for approval."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO charge_points (id, password_hash, site_id, registration_status)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (id) DO UPDATE SET decommissioned_at = NULL,
                       password_hash = EXCLUDED.password_hash, site_id = EXCLUDED.site_id,
                       registration_status = EXCLUDED.registration_status, approved_at = NULL
                   WHERE charge_points.decommissioned_at IS NOT NULL""",
                (charge_point_id, password_hash, site_id, registration_status),
            )
            return cur.rowcount == 1

    async def mark_connected(self, arrivals: Sequence[ChargePointArrival]) -> None:
        """Charge points connected (one per id: the caller keeps the latest connection), in
        one statement, its own transaction. It locks their rows in id order, so two such
        batches cannot deadlock each other; a group commit holding one of them for the old
        session of a charger that has just reconnected still can, and PostgreSQL breaks that
        by failing one side: then each charge point is marked in a statement of its own (one
        row locked, no deadlock possible)."""
        if arrivals:
            await in_one_statement_else_each(self._mark_connected, arrivals)

    async def _mark_connected(self, arrivals: Sequence[ChargePointArrival]) -> None:
        async with connection(self.pool) as conn:
            # `locked` takes the row locks in id order, whatever plan the UPDATE gets.
            await conn.execute(
                """WITH arriving AS (
                       SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
                                     AS a(id, protocol, connection_id)),
                   locked AS MATERIALIZED (
                       SELECT id FROM charge_points WHERE id IN (SELECT id FROM arriving)
                       ORDER BY id FOR NO KEY UPDATE),
                   connected AS (
                       UPDATE charge_points AS cp SET connected = true,
                              ocpp_protocol = a.protocol, connection_id = a.connection_id,
                              last_connected_at = now(), last_seen_at = now()
                       FROM arriving AS a JOIN locked USING (id)
                       WHERE cp.id = a.id RETURNING cp.id)
                   INSERT INTO connectivity_events (charge_point_id, event)
                   SELECT id, 'connect' FROM connected""",
                [list(column) for column in zip(*arrivals, strict=True)],
            )

    async def mark_disconnected(self, departures: Sequence[tuple[str, str]]) -> None:
        """(charge point id, connection id) pairs: each charge point marked offline unless a
        newer connection has replaced that one, in one statement, its own transaction. Rows
        are locked in id order, as in `mark_connected`, and a deadlock with a group commit is
        met the same way: each departure in a statement of its own."""
        if departures:
            await in_one_statement_else_each(self._mark_disconnected, departures)

    async def _mark_disconnected(self, departures: Sequence[tuple[str, str]]) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """WITH departing AS (
                       SELECT DISTINCT * FROM unnest(%s::text[], %s::text[])
                                     AS d(id, connection_id)),
                   locked AS MATERIALIZED (
                       SELECT cp.id FROM charge_points AS cp JOIN departing AS d
                              ON cp.id = d.id AND cp.connection_id = d.connection_id
                       ORDER BY cp.id FOR NO KEY UPDATE OF cp),
                   disconnected AS (
                       UPDATE charge_points AS cp SET connected = false,
                              last_disconnected_at = now()
                       FROM departing AS d JOIN locked USING (id)
                       WHERE cp.id = d.id AND cp.connection_id = d.connection_id
                       RETURNING cp.id)
                   INSERT INTO connectivity_events (charge_point_id, event)
                   SELECT id, 'disconnect' FROM disconnected""",
                [list(column) for column in zip(*departures, strict=True)],
            )

    async def mark_all_disconnected(self) -> None:
        """On start: nobody is connected to a system that was not running."""
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE charge_points SET connected = false,
                          last_disconnected_at = COALESCE(last_disconnected_at, now())
                   WHERE connected"""
            )

    async def record_boot(
        self,
        charge_point_id: str,
        *,
        vendor: str,
        model: str,
        serial_number: str | None,
        firmware_version: str | None,
        boot_info: dict,
    ) -> None:
        # In a group commit, each written once for the whole batch.
        async with transaction(self.pool) as conn:
            await write_rows(
                conn,
                """UPDATE charge_points AS cp
                   SET vendor = boot.vendor, model = boot.model,
                       serial_number = boot.serial_number,
                       firmware_version = boot.firmware_version, boot_info = boot.info,
                       booted_at = now(), last_seen_at = now()
                   FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[],
                               %s::text[])
                        AS boot(vendor, model, serial_number, firmware_version, info, id)
                   WHERE cp.id = boot.id""",
                [
                    (
                        vendor,
                        model,
                        serial_number,
                        firmware_version,
                        Jsonb(boot_info),
                        charge_point_id,
                    )
                ],
            )
            await write_rows(
                conn,
                "COPY connectivity_events (charge_point_id, event) FROM STDIN",
                [(charge_point_id, "boot")],
            )

    async def record_heartbeats(self, rows: Sequence[tuple[str, datetime]]) -> None:
        """(charge point id, when) of heartbeats: one event each, and each charge point's
        last seen time moved to its latest."""
        latest: dict[str, datetime] = {}
        for charge_point_id, at in rows:
            latest[charge_point_id] = max(at, latest.get(charge_point_id, at))
        async with transaction(self.pool) as conn:
            # Rows a group commit holds are skipped, not waited for: this statement locks many
            # chargers' rows at once and, waiting, could deadlock with a batch. A skipped
            # charger is being booted or connected, which sets its last seen time anyway.
            await conn.execute(
                """UPDATE charge_points AS cp SET last_seen_at = seen.at
                   FROM unnest(%s::text[], %s::timestamptz[]) AS seen(id, at)
                   WHERE cp.id = seen.id
                     AND cp.id IN (SELECT id FROM charge_points WHERE id = ANY(%s)
                                   FOR UPDATE SKIP LOCKED)
                     AND (cp.last_seen_at IS NULL OR cp.last_seen_at < seen.at)""",
                (list(latest), list(latest.values()), list(latest)),
            )
            await write_rows(
                conn,
                "COPY connectivity_events (charge_point_id, at, event) FROM STDIN",
                [(charge_point_id, at, "heartbeat") for charge_point_id, at in rows],
            )

    async def list_summaries(
        self, *, filters: ChargePointFilter, order: KeysetOrder, after: Any, limit: int
    ) -> list[ChargePointSummary]:
        where = (
            Filters()
            .where("cp.site_id = {}", filters.site_id)
            .where("cp.connected = {}", filters.connected)
            .where("cp.ocpp_protocol = {}", filters.protocol)
            .where("strpos(lower(cp.id), lower({})) > 0", filters.q)
            .where(
                "EXISTS (SELECT 1 FROM connectors x WHERE x.charge_point_id = cp.id"
                " AND x.status = {})",
                filters.status,
            )
        )
        if not filters.include_decommissioned:
            where.always("cp.decommissioned_at IS NULL")
        select = """SELECT cp.*, COALESCE(c.connectors, '[]') AS connectors
            FROM charge_points cp
            LEFT JOIN LATERAL (
                SELECT json_agg(json_build_object(
                    'connector_id', connector_id, 'status', status,
                    'error_code', error_code, 'info', info,
                    'vendor_error_code', vendor_error_code, 'status_at', status_at)
                    ORDER BY connector_id) AS connectors
                FROM connectors WHERE charge_point_id = cp.id) c ON TRUE"""
        rows = await keyset_list(self.pool, select, where, order, after, limit)
        return [ChargePointSummary.model_validate(fields_of(r, ChargePointSummary)) for r in rows]

    async def update(self, charge_point_id: str, changes: dict[str, Any]) -> bool:
        """Set the given columns (names checked by the caller's model); False if unknown."""
        if not changes:
            return await self.get_row(charge_point_id) is not None
        sets = ", ".join(f"{name} = %({name})s" for name in changes)
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"UPDATE charge_points SET {sets} WHERE id = %(_id)s",
                {**changes, "_id": charge_point_id},
            )
            return cur.rowcount == 1

    async def decommission(self, charge_point_id: str) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE charge_points SET decommissioned_at = now()
                   WHERE id = %s AND decommissioned_at IS NULL""",
                (charge_point_id,),
            )
            return cur.rowcount == 1

    async def get(self, charge_point_id: str) -> ChargePoint | None:
        row = await self.get_row(charge_point_id)
        if row is None:
            return None
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT connector_id, status, error_code, info, vendor_error_code, status_at
                   FROM connectors WHERE charge_point_id = %s ORDER BY connector_id""",
                (charge_point_id,),
            )
            connectors = [ConnectorStatus(**r) for r in await cur.fetchall()]
            cur = await conn.execute(
                f"""SELECT {TRANSACTION_COLUMNS} FROM transactions t
                    WHERE t.charge_point_id = %s AND t.stopped_at IS NULL
                    ORDER BY t.connector_id""",
                (charge_point_id,),
            )
            active = [transaction_of(r) for r in await cur.fetchall()]
        return ChargePoint(
            **fields_of(row, ChargePoint), connectors=connectors, active_transactions=active
        )


# An older status (a charger sending what it had queued while offline) does not replace a
# newer one.
_UPSERT_CONNECTOR_STATUS = """
    INSERT INTO connectors (charge_point_id, connector_id, status, error_code, info,
                            vendor_error_code, status_at)
    SELECT * FROM unnest(%s::text[], %s::integer[], %s::text[], %s::text[], %s::text[],
                         %s::text[], %s::timestamptz[])
    ON CONFLICT (charge_point_id, connector_id) DO UPDATE SET
        status = EXCLUDED.status, error_code = EXCLUDED.error_code, info = EXCLUDED.info,
        vendor_error_code = EXCLUDED.vendor_error_code, status_at = EXCLUDED.status_at,
        updated_at = now()
    WHERE connectors.status_at <= EXCLUDED.status_at"""


class ConnectorRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def record_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        """Keep the newest status per connector, and every status as an event."""
        row = (
            charge_point_id,
            status.connector_id,
            status.status,
            status.error_code,
            status.info,
            status.vendor_error_code,
            status.status_at,
        )
        # In a group commit, each written once for the whole batch.
        async with transaction(self.pool) as conn:
            await write_rows(conn, _UPSERT_CONNECTOR_STATUS, [row])
            await write_rows(
                conn,
                """COPY status_events (charge_point_id, connector_id, status, error_code, info,
                                       vendor_error_code, timestamp) FROM STDIN""",
                [row],
            )

    async def record_problem(self, charge_point_id: str, problem: ConnectorProblem) -> None:
        """An error code on a connector (2.x NotifyEvent Problem): on the connector as it
        is, and as a status event with the status it has (Unknown if it reported none)."""
        async with transaction(self.pool) as conn:
            await conn.execute(
                """WITH updated AS (
                       UPDATE connectors SET error_code = %(code)s, info = %(info)s,
                           vendor_error_code = %(vendor)s, updated_at = now()
                       WHERE charge_point_id = %(cp)s AND connector_id = %(connector)s
                       RETURNING status)
                   INSERT INTO status_events (charge_point_id, connector_id, status,
                       error_code, info, vendor_error_code, timestamp)
                   VALUES (%(cp)s, %(connector)s,
                           COALESCE((SELECT status FROM updated), 'Unknown'),
                           %(code)s, %(info)s, %(vendor)s, %(at)s)""",
                {
                    "cp": charge_point_id,
                    "connector": problem.connector_id,
                    "code": problem.error_code,
                    "info": problem.info,
                    "vendor": problem.vendor_error_code,
                    "at": problem.at,
                },
            )

    async def available(self, *, site_id: str | None, limit: int) -> list[Row]:
        """Connectors of connected, in-service charge points whose status is Available."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT c.charge_point_id, cp.site_id, c.connector_id, cp.ocpp_protocol,
                          cp.max_power_kw, c.status_at AS available_since
                   FROM connectors c JOIN charge_points cp ON cp.id = c.charge_point_id
                   WHERE c.connector_id > 0 AND c.status = 'Available' AND cp.connected
                     AND cp.decommissioned_at IS NULL
                     AND (%(site)s::text IS NULL OR cp.site_id = %(site)s)
                   ORDER BY c.charge_point_id, c.connector_id LIMIT %(limit)s""",
                {"site": site_id, "limit": limit},
            )
            return await cur.fetchall()

    async def recent_problems(self, charge_point_id: str, limit: int) -> list[Row]:
        """The newest status events that report a fault or an error code, newest first."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT connector_id, status, error_code, info, vendor_error_code,
                          timestamp AS at
                   FROM status_events
                   WHERE charge_point_id = %s
                     AND (status = 'Faulted' OR COALESCE(error_code, 'NoError') <> 'NoError')
                   ORDER BY timestamp DESC, id DESC LIMIT %s""",
                (charge_point_id, limit),
            )
            return await cur.fetchall()


class ChargePointEventRepository:
    """Charger notifications (firmware, logs, security, reports, ...) stored as they came."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(self, charge_point_id: str, protocol: str, action: str, payload: dict) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO charge_point_events (charge_point_id, protocol, action, payload)
                   VALUES (%s, %s, %s, %s)""",
                (charge_point_id, protocol, action, Jsonb(payload)),
            )

    async def recent(
        self, charge_point_id: str, *, action: str | None = None, limit: int = 50
    ) -> list[Row]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT action, payload, received_at FROM charge_point_events
                   WHERE charge_point_id = %(cp)s AND (%(action)s::text IS NULL
                                                       OR action = %(action)s)
                   ORDER BY id DESC LIMIT %(limit)s""",
                {"cp": charge_point_id, "action": action, "limit": limit},
            )
            return await cur.fetchall()
