"""Reservations operators made (sent through `remote_commands.Commander.reserve`)."""

from __future__ import annotations

from pydantic import BaseModel

from sigecve.db.repositories import Repositories, ReservationRepository
from sigecve.domain import Reservation
from sigecve.services.pagination import paginate


class ReservationPage(BaseModel):
    items: list[Reservation]
    next_cursor: str | None = None


async def list_reservations(
    repos: Repositories,
    *,
    charge_point_id: str | None = None,
    status: str | None = None,
    sort: str = "-id",
    cursor: str | None = None,
    limit: int = 100,
) -> ReservationPage:
    items, next_cursor = await paginate(
        lambda **page: repos.reservations.list(
            charge_point_id=charge_point_id, status=status, **page
        ),
        ReservationRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return ReservationPage(items=items, next_cursor=next_cursor)
