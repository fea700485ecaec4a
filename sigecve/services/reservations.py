"""Reservations operators made (sent through `remote_commands.Commander.reserve`)."""

from __future__ import annotations

from datetime import datetime

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


async def status_on_connector(
    repos: Repositories,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    status: str,
    at: datetime,
) -> str:
    """The status to answer a start with on `connector_id`: an id tag that may charge is
    Invalid there while the connector is reserved for another tag."""
    if status != "Accepted" or connector_id <= 0:
        return status
    held = await repos.reservations.holding(charge_point_id, connector_id, at)
    return "Invalid" if held is not None and held.id_tag != id_tag else status


async def use_reservation(
    repos: Repositories,
    charge_point_id: str,
    *,
    reservation_id: int | None,
    connector_id: int,
    id_tag: str,
    transaction_id: int,
    at: datetime,
) -> None:
    """A session started (with an accepted tag): the reservation it started on is used."""
    await repos.reservations.use(
        charge_point_id,
        reservation_id=reservation_id,
        connector_id=connector_id,
        id_tag=id_tag,
        transaction_id=transaction_id,
        at=at,
    )
