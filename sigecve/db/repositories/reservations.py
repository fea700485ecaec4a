"""Reservations."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    Reservation,
)


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
        where = (
            Filters().where("charge_point_id = {}", charge_point_id).where("status = {}", status)
        )
        rows = await keyset_list(
            self.pool, "SELECT * FROM reservations", where, order, after, limit
        )
        return [Reservation(**r) for r in rows]
