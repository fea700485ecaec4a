"""Charging profiles the CSMS set on chargers."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, keyset_list
from sigecve.domain import (
    ChargingProfileRecord,
)


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
        where = (
            Filters()
            .where("charge_point_id = {}", charge_point_id)
            .where("(cleared_at IS NULL) = {}", active)
        )
        select = "SELECT * FROM charging_profiles"
        rows = await keyset_list(self.pool, select, where, order, after, limit)
        return [ChargingProfileRecord(**r) for r in rows]
