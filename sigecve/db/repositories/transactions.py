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
    SignedMeterValue,
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
    t.meter_start_wh, t.meter_stop_wh, t.stop_reason, t.offline,
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
        """Record a start and return its transaction id; a retried start returns the same id.
        A transaction still open on that connector from before is closed (SUPERSEDED)."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO transactions (charge_point_id, connector_id, id_tag, started_at,
                                             meter_start_wh, reservation_id, start_id_tag_status)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (charge_point_id, connector_id, started_at, id_tag)
                       WHERE ocpp_transaction_id IS NULL
                   DO UPDATE SET meter_start_wh = transactions.meter_start_wh
                   RETURNING transaction_id, (xmax = 0) AS created""",
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
            if row["created"]:
                await _close_superseded(
                    conn,
                    charge_point_id,
                    connector_id,
                    int(row["transaction_id"]),
                    started_at,
                    meter_start_wh,
                )
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
                     AND ocpp_transaction_id IS NULL
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
                   WHERE charge_point_id = %s AND transaction_id = ANY(%s)
                     AND ocpp_transaction_id IS NULL""",
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
        offline: bool = False,
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
            # A Started that comes after a later event of its transaction (queued while the
            # station was offline, or a reply lost) still gives the start's time and reading.
            cur = await conn.execute(
                """INSERT INTO transactions (charge_point_id, connector_id, id_tag, started_at,
                       meter_start_wh, start_id_tag_status, protocol, ocpp_transaction_id,
                       offline)
                   VALUES (%(cp)s, %(connector)s, %(tag)s, %(at)s, %(wh)s, %(status)s,
                           %(protocol)s, %(tx)s, %(offline)s)
                   ON CONFLICT (charge_point_id, ocpp_transaction_id)
                       WHERE ocpp_transaction_id IS NOT NULL
                   DO UPDATE SET
                       id_tag = COALESCE(transactions.id_tag, EXCLUDED.id_tag),
                       start_id_tag_status = COALESCE(transactions.start_id_tag_status,
                                                      EXCLUDED.start_id_tag_status),
                       connector_id = GREATEST(transactions.connector_id, EXCLUDED.connector_id),
                       started_at = CASE WHEN %(started)s THEN EXCLUDED.started_at
                                    ELSE LEAST(transactions.started_at, EXCLUDED.started_at)
                                    END,
                       meter_start_wh = CASE WHEN %(started)s AND %(has_reading)s
                                        THEN EXCLUDED.meter_start_wh
                                        ELSE transactions.meter_start_wh END,
                       offline = transactions.offline OR EXCLUDED.offline
                   RETURNING transaction_id, (xmax = 0) AS created, connector_id""",
                {
                    "cp": charge_point_id,
                    "connector": connector_id,
                    "tag": id_tag,
                    "at": timestamp,
                    "wh": round(meter_wh or 0),
                    "status": id_tag_status,
                    "protocol": protocol,
                    "tx": ocpp_transaction_id,
                    "offline": offline,
                    "started": event_type == "Started",
                    "has_reading": meter_wh is not None,
                },
            )
            row = await cur.fetchone()
            assert row is not None
            internal_id = int(row["transaction_id"])
            if row["created"] or (fresh and event_type == "Started"):
                await _close_superseded(
                    conn,
                    charge_point_id,
                    row["connector_id"],
                    internal_id,
                    timestamp,
                    round(meter_wh) if meter_wh is not None else None,
                )
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


# The stop reason of a transaction the CSMS closed because its charger started another on
# the same connector without ending it (a charger that lost it in a reboot, say).
SUPERSEDED = "SupersededByNewTransaction"


async def _close_superseded(
    conn: Any,
    charge_point_id: str,
    connector_id: int,
    new_id: int,
    started_at: datetime,
    meter_start_wh: int | None,
) -> None:
    """Close what is still open on the connector from before `new_id` started: at that
    start, with the energy of its last reading, or of the new start's meter reading when
    the register ran on from it."""
    if connector_id <= 0:
        return  # a start on no connector in particular says nothing of the others
    await conn.execute(
        """UPDATE transactions t SET stopped_at = %(at)s, stop_reason = %(reason)s,
               meter_stop_wh = GREATEST(
                   COALESCE((SELECT max(m.value)::bigint FROM meter_values m
                              WHERE m.transaction_id = t.transaction_id AND m.phase IS NULL
                                AND m.measurand = 'Energy.Active.Import.Register'),
                            t.meter_start_wh),
                   CASE WHEN %(wh)s::bigint >= t.meter_start_wh THEN %(wh)s::bigint END)
           WHERE t.charge_point_id = %(cp)s AND t.connector_id = %(connector)s
             AND t.stopped_at IS NULL AND t.transaction_id <> %(new)s
             AND t.started_at <= %(at)s""",
        {
            "at": started_at,
            "reason": SUPERSEDED,
            "wh": meter_start_wh,
            "cp": charge_point_id,
            "connector": connector_id,
            "new": new_id,
        },
    )


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

    async def add_signed(self, charge_point_id: str, values: Sequence[SignedMeterValue]) -> None:
        """Signed readings as they came (one sent again is stored once)."""
        if not values:
            return
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO signed_meter_values (charge_point_id, connector_id,
                       transaction_id, timestamp, measurand, context, signed_data,
                       signing_method, encoding_method, public_key)
                   SELECT %s, * FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[],
                       %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
                   ON CONFLICT DO NOTHING""",
                (
                    charge_point_id,
                    [v.connector_id for v in values],
                    [v.transaction_id for v in values],
                    [v.timestamp for v in values],
                    [v.measurand for v in values],
                    [v.context for v in values],
                    [v.signed_data for v in values],
                    [v.signing_method for v in values],
                    [v.encoding_method for v in values],
                    [v.public_key for v in values],
                ),
            )

    async def signed_for_transaction(self, transaction_id: int) -> list[SignedMeterValue]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT connector_id, transaction_id, timestamp, measurand, context,
                          signed_data, signing_method, encoding_method, public_key
                   FROM signed_meter_values WHERE transaction_id = %s ORDER BY timestamp, id""",
                (transaction_id,),
            )
            return [SignedMeterValue(**r) for r in await cur.fetchall()]


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
