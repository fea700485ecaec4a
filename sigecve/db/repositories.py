"""Repositories: the only place that writes SQL against the domain tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple, TypeVar

import psycopg.errors
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction, write_rows
from sigecve.db.keyset import KeysetOrder
from sigecve.domain import (
    Alert,
    ApiTokenInfo,
    AuditEntry,
    ChargePoint,
    ChargePointSummary,
    ChargingProfileRecord,
    ConnectorStatus,
    FailureModelInfo,
    IdTag,
    LimitSchedule,
    LoadSample,
    MeterSample,
    PriceSchedule,
    Principal,
    Reservation,
    SessionDemand,
    Site,
    Transaction,
    WorkOrder,
)

T = TypeVar("T")

Row = dict[str, Any]


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


@dataclass(frozen=True)
class TransactionFilter:
    charge_point_id: str | None = None
    site_id: str | None = None
    id_tag: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    active: bool | None = None


_TRANSACTION_COLUMNS = """
    t.transaction_id AS id, COALESCE(t.ocpp_transaction_id, t.transaction_id::text) AS ocpp_id,
    t.protocol, t.charge_point_id, t.connector_id, t.id_tag, t.started_at, t.stopped_at,
    t.meter_start_wh, t.meter_stop_wh, t.stop_reason,
    COALESCE(t.meter_stop_wh,
             (SELECT max(m.value)::bigint FROM meter_values m
               WHERE m.transaction_id = t.transaction_id
                 AND m.measurand = 'Energy.Active.Import.Register'
                 AND m.phase IS NULL)
    ) - t.meter_start_wh AS energy_wh
"""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def _ids_starting_with(
    pool: AsyncConnectionPool, table: str, id_sql: str, prefix: str, limit: int, where: str = "TRUE"
) -> list[str]:
    """Ids (as text) beginning with `prefix`, in order: completions for ids being typed."""
    async with connection(pool) as conn:
        cur = await conn.execute(
            f"""SELECT {id_sql} AS id FROM {table}
                WHERE {where} AND starts_with({id_sql}, %s) ORDER BY {id_sql} LIMIT %s""",
            (prefix, limit),
        )
        return [r["id"] for r in await cur.fetchall()]


async def _in_one_statement_else_each(
    write: Callable[[Sequence[T]], Awaitable[None]], items: Sequence[T]
) -> None:
    """`write` all the items in one statement; if PostgreSQL breaks a deadlock by failing it,
    each item in a statement of its own (one row locked: no deadlock possible)."""
    try:
        await write(items)
    except psycopg.errors.DeadlockDetected:
        for item in items:
            await write([item])


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
        return await _ids_starting_with(
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
        self, charge_point_id: str, password_hash: str | None, site_id: str | None
    ) -> bool:
        """Register a charge point (again, if it was decommissioned); False if one with that id
        is in service."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO charge_points (id, password_hash, site_id) VALUES (%s, %s, %s)
                   ON CONFLICT (id) DO UPDATE SET decommissioned_at = NULL,
                       password_hash = EXCLUDED.password_hash, site_id = EXCLUDED.site_id
                   WHERE charge_points.decommissioned_at IS NOT NULL""",
                (charge_point_id, password_hash, site_id),
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
            await _in_one_statement_else_each(self._mark_connected, arrivals)

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
            await _in_one_statement_else_each(self._mark_disconnected, departures)

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
        params: dict[str, Any] = {**filters.__dict__, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT cp.*, COALESCE(c.connectors, '[]') AS connectors
                    FROM charge_points cp
                    LEFT JOIN LATERAL (
                        SELECT json_agg(json_build_object(
                            'connector_id', connector_id, 'status', status,
                            'error_code', error_code, 'info', info,
                            'vendor_error_code', vendor_error_code, 'status_at', status_at)
                            ORDER BY connector_id) AS connectors
                        FROM connectors WHERE charge_point_id = cp.id) c ON TRUE
                    WHERE (%(site_id)s::text IS NULL OR cp.site_id = %(site_id)s)
                      AND (%(connected)s::boolean IS NULL OR cp.connected = %(connected)s)
                      AND (%(protocol)s::text IS NULL OR cp.ocpp_protocol = %(protocol)s)
                      AND (%(q)s::text IS NULL OR strpos(lower(cp.id), lower(%(q)s)) > 0)
                      AND (%(status)s::text IS NULL OR EXISTS (
                          SELECT 1 FROM connectors x WHERE x.charge_point_id = cp.id
                          AND x.status = %(status)s))
                      AND (%(include_decommissioned)s OR cp.decommissioned_at IS NULL)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            rows = await cur.fetchall()
        return [ChargePointSummary.model_validate(_fields(r, ChargePointSummary)) for r in rows]

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
                f"""SELECT {_TRANSACTION_COLUMNS} FROM transactions t
                    WHERE t.charge_point_id = %s AND t.stopped_at IS NULL
                    ORDER BY t.connector_id""",
                (charge_point_id,),
            )
            active = [_transaction(r) for r in await cur.fetchall()]
        return ChargePoint(
            **_fields(row, ChargePoint), connectors=connectors, active_transactions=active
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


class IdTagRepository:
    SORTS = {"id_tag": ("id_tag", str)}
    ID = ("id_tag", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def insert(self, tag: IdTag) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, owner)
                   VALUES (%(id_tag)s, %(status)s, %(expiry_date)s, %(parent_id_tag)s, %(owner)s)
                   ON CONFLICT (id_tag) DO NOTHING""",
                tag.model_dump(),
            )
            return cur.rowcount == 1

    async def upsert(self, tag: IdTag) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO id_tags (id_tag, status, expiry_date, parent_id_tag, owner)
                   VALUES (%(id_tag)s, %(status)s, %(expiry_date)s, %(parent_id_tag)s, %(owner)s)
                   ON CONFLICT (id_tag) DO UPDATE SET status = EXCLUDED.status,
                       expiry_date = EXCLUDED.expiry_date,
                       parent_id_tag = EXCLUDED.parent_id_tag""",
                tag.model_dump(),
            )

    async def get(self, id_tag: str) -> IdTag | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id_tag, status, expiry_date, parent_id_tag, owner FROM id_tags
                   WHERE id_tag = %s""",
                (id_tag,),
            )
            row = await cur.fetchone()
            return IdTag(**row) if row else None

    async def list(
        self,
        *,
        status: str | None,
        parent_id_tag: str | None,
        q: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[IdTag]:
        params: dict[str, Any] = {"status": status, "parent": parent_id_tag, "q": q, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT id_tag, status, expiry_date, parent_id_tag, owner, created_at
                    FROM id_tags
                    WHERE (%(status)s::text IS NULL OR status = %(status)s)
                      AND (%(parent)s::text IS NULL OR parent_id_tag = %(parent)s)
                      AND (%(q)s::text IS NULL
                           OR strpos(lower(id_tag || ' ' || COALESCE(owner, '')), lower(%(q)s)) > 0)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [IdTag(**_fields(r, IdTag)) for r in await cur.fetchall()]

    async def update(self, id_tag: str, changes: dict[str, Any]) -> IdTag | None:
        if changes:
            sets = ", ".join(f"{name} = %({name})s" for name in changes)
            async with connection(self.pool) as conn:
                await conn.execute(
                    f"UPDATE id_tags SET {sets} WHERE id_tag = %(_id)s", {**changes, "_id": id_tag}
                )
        return await self.get(id_tag)

    async def delete(self, id_tag: str) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute("DELETE FROM id_tags WHERE id_tag = %s", (id_tag,))
            return cur.rowcount == 1


class TransactionRepository:
    SORTS = {"id": ("t.transaction_id", int), "started_at": ("t.started_at", datetime)}
    ID = ("t.transaction_id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Ids sort as text here (completion of what is typed), not as numbers."""
        return await _ids_starting_with(
            self.pool, "transactions", "transaction_id::text", prefix, limit
        )

    async def start(
        self,
        *,
        charge_point_id: str,
        connector_id: int,
        id_tag: str,
        started_at: datetime,
        meter_start_wh: int,
        reservation_id: int | None,
        id_tag_status: str,
    ) -> int:
        """Record a start and return its transaction id; a retried start returns the same id."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO transactions (charge_point_id, connector_id, id_tag, started_at,
                                             meter_start_wh, reservation_id, start_id_tag_status)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (charge_point_id, connector_id, started_at, id_tag)
                   DO UPDATE SET meter_start_wh = transactions.meter_start_wh
                   RETURNING transaction_id""",
                (
                    charge_point_id,
                    connector_id,
                    id_tag,
                    started_at,
                    meter_start_wh,
                    reservation_id,
                    id_tag_status,
                ),
            )
            row = await cur.fetchone()
            assert row is not None
            return int(row["transaction_id"])

    async def stop(
        self,
        *,
        charge_point_id: str,
        transaction_id: int,
        stopped_at: datetime,
        meter_stop_wh: int,
        reason: str | None,
        id_tag: str | None,
        samples: Sequence[MeterSample] = (),
    ) -> bool:
        """Record a stop (and its transactionData) atomically; False if the id is unknown here."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE transactions SET stopped_at = %s, meter_stop_wh = %s,
                          stop_reason = %s, stop_id_tag = %s
                   WHERE transaction_id = %s AND charge_point_id = %s
                   RETURNING connector_id""",
                (stopped_at, meter_stop_wh, reason, id_tag, transaction_id, charge_point_id),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            if samples:
                connector = row["connector_id"]
                await _copy_meter_samples(
                    conn,
                    charge_point_id,
                    [s.model_copy(update={"connector_id": connector}) for s in samples],
                )
            return True

    async def known_ids(self, charge_point_id: str, ids: Iterable[int]) -> set[int]:
        wanted = list(set(ids))
        if not wanted:
            return set()
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT transaction_id FROM transactions
                   WHERE charge_point_id = %s AND transaction_id = ANY(%s)""",
                (charge_point_id, wanted),
            )
            return {int(r["transaction_id"]) for r in await cur.fetchall()}

    async def list(
        self, *, filters: TransactionFilter, order: KeysetOrder, after: Any, limit: int
    ) -> list[Transaction]:
        params: dict[str, Any] = {**filters.__dict__, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT {_TRANSACTION_COLUMNS} FROM transactions t
                    WHERE (%(charge_point_id)s::text IS NULL
                           OR t.charge_point_id = %(charge_point_id)s)
                      AND (%(id_tag)s::text IS NULL OR t.id_tag = %(id_tag)s)
                      AND (%(site_id)s::text IS NULL OR t.charge_point_id IN (
                          SELECT id FROM charge_points WHERE site_id = %(site_id)s))
                      AND (%(started_from)s::timestamptz IS NULL
                           OR t.started_at >= %(started_from)s)
                      AND (%(started_to)s::timestamptz IS NULL OR t.started_at < %(started_to)s)
                      AND (%(active)s::boolean IS NULL
                           OR (t.stopped_at IS NULL) = %(active)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [_transaction(r) for r in await cur.fetchall()]

    async def get(self, transaction_id: int) -> Transaction | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"SELECT {_TRANSACTION_COLUMNS} FROM transactions t WHERE t.transaction_id = %s",
                (transaction_id,),
            )
            row = await cur.fetchone()
            return _transaction(row) if row else None

    async def apply_event(
        self,
        *,
        charge_point_id: str,
        ocpp_transaction_id: str,
        seq_no: int,
        event_type: str,
        trigger_reason: str,
        timestamp: datetime,
        payload: dict,
        connector_id: int,
        id_tag: str | None,
        id_tag_status: str | None,
        meter_wh: float | None,
        stopped_reason: str | None,
        samples: Sequence[MeterSample],
    ) -> tuple[int, bool]:
        """Apply one 2.0.1 TransactionEvent atomically: (our id, False if a retry).

        Any event creates the transaction if it is new to us (a Started lost while offline
        must not lose the session); Ended closes it with the last energy reading.
        """
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO transaction_events (charge_point_id, ocpp_transaction_id, seq_no,
                       event_type, trigger_reason, timestamp, payload)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (
                    charge_point_id,
                    ocpp_transaction_id,
                    seq_no,
                    event_type,
                    trigger_reason,
                    timestamp,
                    Jsonb(payload),
                ),
            )
            fresh = cur.rowcount == 1
            cur = await conn.execute(
                """INSERT INTO transactions (charge_point_id, connector_id, id_tag, started_at,
                       meter_start_wh, start_id_tag_status, protocol, ocpp_transaction_id)
                   VALUES (%s, %s, %s, %s, %s, %s, 'ocpp2.0.1', %s)
                   ON CONFLICT (charge_point_id, ocpp_transaction_id)
                       WHERE ocpp_transaction_id IS NOT NULL
                   DO UPDATE SET
                       id_tag = COALESCE(transactions.id_tag, EXCLUDED.id_tag),
                       start_id_tag_status = COALESCE(transactions.start_id_tag_status,
                                                      EXCLUDED.start_id_tag_status),
                       connector_id = GREATEST(transactions.connector_id, EXCLUDED.connector_id)
                   RETURNING transaction_id""",
                (
                    charge_point_id,
                    connector_id,
                    id_tag,
                    timestamp,
                    round(meter_wh or 0),
                    id_tag_status,
                    ocpp_transaction_id,
                ),
            )
            row = await cur.fetchone()
            assert row is not None
            internal_id = int(row["transaction_id"])
            if not fresh:
                return internal_id, False
            if samples:
                await _copy_meter_samples(
                    conn,
                    charge_point_id,
                    [s.model_copy(update={"transaction_id": internal_id}) for s in samples],
                )
            if event_type == "Ended":
                # The subquery reads earlier events' readings: this event's own (which a group
                # commit may write only at the batch's end) hold no energy register when wh is
                # None, since wh is the newest of them.
                await conn.execute(
                    """UPDATE transactions SET stopped_at = %(at)s, stop_reason = %(reason)s,
                           meter_stop_wh = COALESCE(%(wh)s::bigint,
                               (SELECT max(m.value)::bigint FROM meter_values m
                                 WHERE m.transaction_id = %(id)s AND m.phase IS NULL
                                   AND m.measurand = 'Energy.Active.Import.Register'),
                               meter_start_wh)
                       WHERE transaction_id = %(id)s""",
                    {
                        "at": timestamp,
                        "reason": stopped_reason or "Local",
                        "wh": round(meter_wh) if meter_wh is not None else None,
                        "id": internal_id,
                    },
                )
            return internal_id, True


def _fields(row: Row, model: type) -> Row:
    return {k: v for k, v in row.items() if k in model.model_fields}


def _transaction(row: Row) -> Transaction:
    values = dict(row)
    ocpp_id = values.pop("ocpp_id")
    values["transaction_id"] = int(ocpp_id) if values["protocol"] == "ocpp1.6" else ocpp_id
    return Transaction(**values)


class MeterValueRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(self, charge_point_id: str, samples: Sequence[MeterSample]) -> None:
        if not samples:
            return
        async with transaction(self.pool) as conn:
            await _copy_meter_samples(conn, charge_point_id, samples)

    async def for_transaction(self, transaction_id: int) -> list[MeterSample]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT connector_id, transaction_id, timestamp, measurand, value, unit, phase,
                          context, location
                   FROM meter_values WHERE transaction_id = %s ORDER BY timestamp, id""",
                (transaction_id,),
            )
            return [MeterSample(**r) for r in await cur.fetchall()]


async def _copy_meter_samples(conn: Any, charge_point_id: str, samples: Sequence[MeterSample]):
    """Store samples once: a reading sent again (its answer lost) is skipped, not doubled
    (the `meter_values_once` index). One statement for all rows, like COPY."""
    await write_rows(
        conn,
        """INSERT INTO meter_values (charge_point_id, connector_id, transaction_id, timestamp,
                                     measurand, value, unit, phase, context, location)
           SELECT * FROM unnest(%s::text[], %s::integer[], %s::bigint[], %s::timestamptz[],
                                %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[],
                                %s::text[])
           ON CONFLICT DO NOTHING""",
        [
            (
                charge_point_id,
                s.connector_id,
                s.transaction_id,
                s.timestamp,
                s.measurand,
                s.value,
                s.unit,
                s.phase,
                s.context,
                s.location,
            )
            for s in samples
        ],
    )


class MessageLogRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add_many(
        self, rows: Sequence[tuple[str, str, int | None, str | None, str | None, str, datetime]]
    ) -> None:
        """rows: (charge_point_id, direction, message_type, unique_id, action, frame, at)."""
        if not rows:
            return
        async with connection(self.pool) as conn:
            await write_rows(
                conn,
                """COPY ocpp_messages (charge_point_id, direction, message_type, unique_id, action,
                                   frame, at) FROM STDIN""",
                rows,
            )

    async def purge_older_than(self, cutoff: datetime, batch: int = 10_000) -> int:
        """Delete frames logged before `cutoff`, in batches; the number deleted."""
        deleted = 0
        while True:
            async with connection(self.pool) as conn:
                cur = await conn.execute(
                    """DELETE FROM ocpp_messages WHERE id IN (
                           SELECT id FROM ocpp_messages WHERE at < %s LIMIT %s)""",
                    (cutoff, batch),
                )
            deleted += cur.rowcount
            if cur.rowcount < batch:
                return deleted

    async def recent(
        self, charge_point_id: str, limit: int = 100, *, call_errors_only: bool = False
    ) -> list[Row]:
        """The newest frames to and from a charger, newest first (only CALLERRORs if asked)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT direction, message_type, unique_id, action, frame, at
                   FROM ocpp_messages WHERE charge_point_id = %s
                     AND (NOT %s OR message_type = 4)
                   ORDER BY id DESC LIMIT %s""",
                (charge_point_id, call_errors_only, limit),
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


class SiteRepository:
    SORTS = {"id": ("id", str)}
    ID = ("id", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        return await _ids_starting_with(self.pool, "sites", "id", prefix, limit)

    async def insert(self, site: Site) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO sites (id, name, max_power_kw, price_per_kwh, smart_charging,
                                      price_schedule, limit_schedule)
                   VALUES (%(id)s, %(name)s, %(max_power_kw)s, %(price_per_kwh)s,
                           %(smart_charging)s, %(price_schedule)s, %(limit_schedule)s)
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
                """SELECT id, name, max_power_kw, price_per_kwh, smart_charging, price_schedule,
                          limit_schedule FROM sites WHERE id = %s""",
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
        params: dict[str, Any] = {"limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT id, name, max_power_kw, price_per_kwh, smart_charging, price_schedule,
                           limit_schedule FROM sites WHERE {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [Site(**r) for r in await cur.fetchall()]

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
                f"""SELECT {_TRANSACTION_COLUMNS}, cp.max_power_kw AS cp_max_power_kw,
                           cp.phases, cp.charging_rate_unit, d.target_energy_kwh,
                           d.departure_at, d.ev_max_power_kw, d.priority
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

    async def upsert(self, transaction_id: int, demand: SessionDemand, source: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO session_demands (transaction_id, target_energy_kwh, departure_at,
                                                ev_max_power_kw, priority, source)
                   VALUES (%(id)s, %(target_energy_kwh)s, %(departure_at)s, %(ev_max_power_kw)s,
                           %(priority)s, %(source)s)
                   ON CONFLICT (transaction_id) DO UPDATE SET
                       target_energy_kwh = COALESCE(EXCLUDED.target_energy_kwh,
                                                    session_demands.target_energy_kwh),
                       departure_at = COALESCE(EXCLUDED.departure_at, session_demands.departure_at),
                       ev_max_power_kw = COALESCE(EXCLUDED.ev_max_power_kw,
                                                  session_demands.ev_max_power_kw),
                       priority = COALESCE(EXCLUDED.priority, session_demands.priority),
                       source = EXCLUDED.source, updated_at = now()""",
                {"id": transaction_id, "source": source, **demand.model_dump()},
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


class ApiTokenRepository:
    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ensure(self, name: str, token_hash: str, role: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO api_tokens (name, token_hash, role) VALUES (%s, %s, %s)
                   ON CONFLICT (token_hash) DO NOTHING""",
                (name, token_hash, role),
            )

    async def insert(self, name: str, token_hash: str, role: str) -> ApiTokenInfo:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO api_tokens (name, token_hash, role) VALUES (%s, %s, %s)
                   RETURNING id, name, role, created_at, revoked_at""",
                (name, token_hash, role),
            )
            row = await cur.fetchone()
            assert row is not None
            return ApiTokenInfo(**row)

    async def principal_for(self, token_hash: str) -> Principal | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id AS token_id, name, role FROM api_tokens
                   WHERE token_hash = %s AND revoked_at IS NULL""",
                (token_hash,),
            )
            row = await cur.fetchone()
            return Principal(**row) if row else None

    async def role_for(self, token_hash: str) -> str | None:
        principal = await self.principal_for(token_hash)
        return principal.role if principal else None

    async def list(
        self, *, include_revoked: bool, order: KeysetOrder, after: Any, limit: int
    ) -> list[ApiTokenInfo]:
        params: dict[str, Any] = {"all": include_revoked, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT id, name, role, created_at, revoked_at FROM api_tokens
                    WHERE (%(all)s OR revoked_at IS NULL) AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [ApiTokenInfo(**r) for r in await cur.fetchall()]

    async def revoke(self, token_id: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE api_tokens SET revoked_at = now()
                   WHERE id = %s AND revoked_at IS NULL""",
                (token_id,),
            )
            return cur.rowcount == 1


class AuditLogRepository:
    """Who changed what, through which interface, with what outcome."""

    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(
        self,
        *,
        principal: Principal | None,
        interface: str,
        method: str,
        target: str,
        status: int,
        details: dict | None,
    ) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO audit_log (token_id, token_name, role, interface, method, target,
                                          status, details)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    principal.token_id if principal else None,
                    principal.name if principal else None,
                    principal.role if principal else None,
                    interface,
                    method,
                    target,
                    status,
                    Jsonb(details) if details is not None else None,
                ),
            )

    async def list(
        self,
        *,
        token_id: int | None,
        interface: str | None,
        since: datetime | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[AuditEntry]:
        params: dict[str, Any] = {
            "token": token_id,
            "interface": interface,
            "since": since,
            "limit": limit,
        }
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM audit_log
                    WHERE (%(token)s::bigint IS NULL OR token_id = %(token)s)
                      AND (%(interface)s::text IS NULL OR interface = %(interface)s)
                      AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [AuditEntry(**r) for r in await cur.fetchall()]


class ReservationRepository:
    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def next_id(self) -> int:
        """A fresh reservation id to send to the charger (before it replies)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT nextval('reservations_id_seq') AS id")
            row = await cur.fetchone()
            assert row is not None
            return int(row["id"])

    async def insert(self, reservation: Reservation) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO reservations (id, charge_point_id, connector_id, id_tag,
                                             expires_at, status, created_at)
                   VALUES (%(id)s, %(charge_point_id)s, %(connector_id)s, %(id_tag)s,
                           %(expires_at)s, %(status)s, %(created_at)s)""",
                reservation.model_dump(),
            )

    async def get(self, reservation_id: int) -> Reservation | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM reservations WHERE id = %s", (reservation_id,))
            row = await cur.fetchone()
            return Reservation(**row) if row else None

    async def cancel(self, reservation_id: int) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE reservations SET status = 'Cancelled', cancelled_at = now()
                   WHERE id = %s""",
                (reservation_id,),
            )

    async def list(
        self,
        *,
        charge_point_id: str | None,
        status: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[Reservation]:
        params: dict[str, Any] = {"cp": charge_point_id, "status": status, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM reservations
                    WHERE (%(cp)s::text IS NULL OR charge_point_id = %(cp)s)
                      AND (%(status)s::text IS NULL OR status = %(status)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [Reservation(**r) for r in await cur.fetchall()]


class ChargingProfileRepository:
    """Charging profiles operators sent (the grid scheduler's TxProfiles live in its plan)."""

    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(
        self, charge_point_id: str, connector_id: int, profile_id: int, profile: dict, status: str
    ) -> ChargingProfileRecord:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO charging_profiles (charge_point_id, connector_id, profile_id,
                                                  profile, status)
                   VALUES (%s, %s, %s, %s, %s) RETURNING *""",
                (charge_point_id, connector_id, profile_id, Jsonb(profile), status),
            )
            row = await cur.fetchone()
            assert row is not None
            return ChargingProfileRecord(**row)

    async def mark_cleared(self, charge_point_id: str, profile_id: int | None) -> int:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE charging_profiles SET cleared_at = now()
                   WHERE charge_point_id = %(cp)s AND cleared_at IS NULL
                     AND (%(pid)s::integer IS NULL OR profile_id = %(pid)s)""",
                {"cp": charge_point_id, "pid": profile_id},
            )
            return cur.rowcount

    async def list(
        self,
        *,
        charge_point_id: str | None,
        active: bool | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[ChargingProfileRecord]:
        params: dict[str, Any] = {"cp": charge_point_id, "active": active, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM charging_profiles
                    WHERE (%(cp)s::text IS NULL OR charge_point_id = %(cp)s)
                      AND (%(active)s::boolean IS NULL OR (cleared_at IS NULL) = %(active)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [ChargingProfileRecord(**r) for r in await cur.fetchall()]


class AlertRepository:
    """Failure-prediction alerts: raised by the scoring actors, cleared on repair."""

    SORTS = {"id": ("a.id", int), "risk": ("a.risk", float)}
    ID = ("a.id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def list(
        self,
        *,
        charge_point_id: str | None,
        active: bool | None,
        site_id: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[Alert]:
        params: dict[str, Any] = {
            "cp": charge_point_id,
            "active": active,
            "site": site_id,
            "limit": limit,
        }
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM alerts a
                    WHERE (%(cp)s::text IS NULL OR a.charge_point_id = %(cp)s)
                      AND (%(active)s::boolean IS NULL OR (a.cleared_at IS NULL) = %(active)s)
                      AND (%(site)s::text IS NULL OR a.charge_point_id IN (
                          SELECT id FROM charge_points WHERE site_id = %(site)s))
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [Alert(**r) for r in await cur.fetchall()]

    async def get(self, alert_id: int) -> Alert | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM alerts WHERE id = %s", (alert_id,))
            row = await cur.fetchone()
            return Alert(**row) if row else None

    async def clear(self, alert_id: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "UPDATE alerts SET cleared_at = now() WHERE id = %s AND cleared_at IS NULL",
                (alert_id,),
            )
            return cur.rowcount == 1


class FailureModelRepository:
    """The failure models deployed to the scoring actors (ml/deploy.py writes them)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def current(self) -> FailureModelInfo | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT version, deployed_at, metadata FROM failure_models
                   ORDER BY deployed_at DESC, version DESC LIMIT 1"""
            )
            row = await cur.fetchone()
        if row is None:
            return None
        meta = row["metadata"]
        return FailureModelInfo(
            version=row["version"],
            deployed_at=row["deployed_at"],
            trained_at=meta.get("trained_at"),
            features=meta.get("features", []),
            horizon_hours=meta.get("horizon_hours"),
            threshold=meta.get("threshold"),
            metrics=meta.get("metrics") or {},
        )


class MaintenanceRepository:
    """Work orders: failures and repairs, the labels of failure prediction."""

    SORTS = {"id": ("id", int)}
    ID = ("id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def open(
        self, charge_point_id: str, failed_at: datetime, failure_mode: str, notes: str | None
    ) -> WorkOrder:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO maintenance (charge_point_id, failed_at, failure_mode, notes)
                   VALUES (%s, %s, %s, %s) RETURNING *""",
                (charge_point_id, failed_at, failure_mode, notes),
            )
            row = await cur.fetchone()
            assert row is not None
            return WorkOrder(**row)

    async def get(self, work_order_id: int) -> WorkOrder | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM maintenance WHERE id = %s", (work_order_id,))
            row = await cur.fetchone()
            return WorkOrder(**row) if row else None

    async def restore(
        self, work_order_id: int, restored_at: datetime, notes: str | None
    ) -> tuple[WorkOrder | None, int]:
        """Close the work order and clear the charger's open alerts, in one transaction; the
        work order (None if it was not open) and the number of alerts cleared."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE maintenance SET restored_at = %s, notes = COALESCE(%s, notes)
                   WHERE id = %s AND restored_at IS NULL RETURNING *""",
                (restored_at, notes, work_order_id),
            )
            row = await cur.fetchone()
            if row is None:
                return None, 0
            cleared = await conn.execute(
                """UPDATE alerts SET cleared_at = %s
                   WHERE charge_point_id = %s AND cleared_at IS NULL""",
                (restored_at, row["charge_point_id"]),
            )
            return WorkOrder(**row), cleared.rowcount

    async def list(
        self,
        *,
        charge_point_id: str | None,
        open_only: bool | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[WorkOrder]:
        params: dict[str, Any] = {"cp": charge_point_id, "open": open_only, "limit": limit}
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"""SELECT * FROM maintenance
                    WHERE (%(cp)s::text IS NULL OR charge_point_id = %(cp)s)
                      AND (%(open)s::boolean IS NULL OR (restored_at IS NULL) = %(open)s)
                      AND {order.where(after, params)}
                    ORDER BY {order.order_by()} LIMIT %(limit)s""",
                params,
            )
            return [WorkOrder(**r) for r in await cur.fetchall()]


class Repositories:
    """All repositories over one pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.charge_points = ChargePointRepository(pool)
        self.connectors = ConnectorRepository(pool)
        self.id_tags = IdTagRepository(pool)
        self.transactions = TransactionRepository(pool)
        self.meter_values = MeterValueRepository(pool)
        self.message_log = MessageLogRepository(pool)
        self.api_tokens = ApiTokenRepository(pool)
        self.events = ChargePointEventRepository(pool)
        self.sites = SiteRepository(pool)
        self.demands = SessionDemandRepository(pool)
        self.audit = AuditLogRepository(pool)
        self.reservations = ReservationRepository(pool)
        self.charging_profiles = ChargingProfileRepository(pool)
        self.alerts = AlertRepository(pool)
        self.maintenance = MaintenanceRepository(pool)
        self.failure_models = FailureModelRepository(pool)
