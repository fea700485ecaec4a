"""Display messages as operators read them (set through `remote_commands.Commander`)."""

from __future__ import annotations

from pydantic import BaseModel

from sigecve.db.repositories import Repositories
from sigecve.domain import DisplayMessage
from sigecve.services.errors import NotFound


class DisplayMessages(BaseModel):
    charge_point_id: str
    items: list[DisplayMessage]


async def display_messages_of(repos: Repositories, charge_point_id: str) -> DisplayMessages:
    """What the station shows as far as SIGEC-VE knows: set here or reported by it."""
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    items = await repos.display_messages.of(charge_point_id)
    return DisplayMessages(charge_point_id=charge_point_id, items=items)
