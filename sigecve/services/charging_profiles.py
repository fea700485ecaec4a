"""Charging profiles operators set (through `remote_commands.Commander.set_charging_profile`)."""

from __future__ import annotations

from pydantic import BaseModel

from sigecve.db.repositories import ChargingProfileRepository, Repositories
from sigecve.domain import ChargingProfileRecord
from sigecve.services.pagination import paginate


class ChargingProfilePage(BaseModel):
    items: list[ChargingProfileRecord]
    next_cursor: str | None = None


async def list_charging_profiles(
    repos: Repositories,
    *,
    charge_point_id: str | None = None,
    active: bool | None = None,
    sort: str = "-id",
    cursor: str | None = None,
    limit: int = 100,
) -> ChargingProfilePage:
    items, next_cursor = await paginate(
        lambda **page: repos.charging_profiles.list(
            charge_point_id=charge_point_id, active=active, **page
        ),
        ChargingProfileRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return ChargingProfilePage(items=items, next_cursor=next_cursor)
