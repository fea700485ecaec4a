"""Reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    Reservation,
)

# Reservations as they are now: one held past its expiry without being used has expired.
_AS_NOW = """(SELECT id, charge_point_id, connector_id, id_tag, expires_at,
                 CASE WHEN status = 'Accepted' AND expires_at <= now() THEN 'Expired'
                      ELSE status END AS status,
                 created_at, cancelled_at, used_at, transaction_id
              FROM reservations) AS r"""


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
            cur = await conn.execute(f"SELECT * FROM {_AS_NOW} WHERE id = %s", (reservation_id,))
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
        where = (
            Filters().where("charge_point_id = {}", charge_point_id).where("status = {}", status)
        )
        rows = await keyset_list(self.pool, f"SELECT * FROM {_AS_NOW}", where, order, after, limit)
        return [Reservation(**r) for r in rows]

    async def holding(
        self, charge_point_id: str, connector_id: int, at: datetime
    ) -> Reservation | None:
        """The reservation holding this connector at `at`, if any (a reservation of "any
        connector" holds none in particular)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT * FROM reservations
                   WHERE charge_point_id = %s AND connector_id = %s AND connector_id > 0
                     AND status = 'Accepted' AND expires_at > %s
                   ORDER BY id LIMIT 1""",
                (charge_point_id, connector_id, at),
            )
            row = await cur.fetchone()
            return Reservation(**row) if row else None

    async def use(
        self,
        charge_point_id: str,
        *,
        reservation_id: int | None,
        connector_id: int,
        id_tag: str,
        transaction_id: int,
        at: datetime,
    ) -> int | None:
        """Mark used the reservation a session started on: the one it names, else the tag's
        own on that connector (or on any); its id, or None if there was none held."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE reservations SET status = 'Used', used_at = %(at)s,
                       transaction_id = %(tx)s
                   WHERE id = (
                       SELECT id FROM reservations
                       WHERE charge_point_id = %(cp)s AND status = 'Accepted'
                         AND CASE WHEN %(rid)s::int IS NOT NULL THEN id = %(rid)s
                                  ELSE id_tag = %(tag)s AND connector_id IN (%(c)s, 0)
                                       AND expires_at > %(at)s END
                       ORDER BY connector_id DESC, id LIMIT 1)
                   RETURNING id""",
                {
                    "at": at,
                    "tx": transaction_id,
                    "cp": charge_point_id,
                    "rid": reservation_id,
                    "tag": id_tag,
                    "c": connector_id,
                },
            )
            row = await cur.fetchone()
            return int(row["id"]) if row else None

    async def ended_by_charger(
        self, charge_point_id: str, reservation_id: int, status: str
    ) -> None:
        """2.x ReservationStatusUpdate: Expired or Removed, as the charger says."""
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE reservations SET status = %s, ended_at = now()
                   WHERE id = %s AND charge_point_id = %s AND status = 'Accepted'""",
                (status, reservation_id, charge_point_id),
            )
