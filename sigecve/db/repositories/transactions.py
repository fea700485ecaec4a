"""Transactions and their meter values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction, write_rows
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, Row, ids_starting_with, keyset_list
from sigecve.domain import (
    MeterSample,
    Transaction,
)


@dataclass(frozen=True)
class TransactionFilter:
    charge_point_id: str | None = None
    site_id: str | None = None
    id_tag: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    active: bool | None = None


TRANSACTION_COLUMNS = """
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


class TransactionRepository:
    SORTS = {"id": ("t.transaction_id", int), "started_at": ("t.started_at", datetime)}
    ID = ("t.transaction_id", int)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Ids sort as text here (completion of what is typed), not as numbers."""
        return await ids_starting_with(
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
        where = (
            Filters()
            .where("t.charge_point_id = {}", filters.charge_point_id)
            .where("t.id_tag = {}", filters.id_tag)
            .where(
                "t.charge_point_id IN (SELECT id FROM charge_points WHERE site_id = {})",
                filters.site_id,
            )
            .where("t.started_at >= {}", filters.started_from)
            .where("t.started_at < {}", filters.started_to)
            .where("(t.stopped_at IS NULL) = {}", filters.active)
        )
        select = f"SELECT {TRANSACTION_COLUMNS} FROM transactions t"
        rows = await keyset_list(self.pool, select, where, order, after, limit)
        return [transaction_of(r) for r in rows]

    async def get(self, transaction_id: int) -> Transaction | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                f"SELECT {TRANSACTION_COLUMNS} FROM transactions t WHERE t.transaction_id = %s",
                (transaction_id,),
            )
            row = await cur.fetchone()
            return transaction_of(row) if row else None

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
        protocol: str,
    ) -> tuple[int, bool]:
        """Apply one 2.0.1 or 2.1 TransactionEvent atomically: (our id, False if a retry).

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
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
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
                    protocol,
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


def transaction_of(row: Row) -> Transaction:
    """A row of TRANSACTION_COLUMNS as the domain's Transaction, with the id its charger
    knows (a number in 1.6, a string in 2.0.1)."""
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
