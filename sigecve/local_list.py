"""Versioned local authorisation lists (pure): what a full or a differential update sends a
charger, given the id tags and the changes since the list it has."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

UpdateType = Literal["Full", "Differential"]
# A list longer than this is refused rather than sent: chargers hold a few thousand at most
# (LocalAuthListMaxLength); split the network's tags by site first.
MAX_ENTRIES = 10_000


class LocalListEntry(BaseModel):
    id_tag: str
    status: str | None = Field(description="null: removed from the charger's list")
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


def latest_per_tag(changes: Iterable[dict]) -> list[LocalListEntry]:
    """The newest change of each tag (changes in order, oldest first), by tag."""
    latest: dict[str, dict] = {}
    for change in changes:
        latest[change["id_tag"]] = change
    return [
        LocalListEntry(
            id_tag=c["id_tag"],
            status=c["status"],
            expiry_date=c["expiry_date"],
            parent_id_tag=c["parent_id_tag"],
        )
        for _, c in sorted(latest.items())
    ]


def update_to_send(requested: UpdateType, synced_version: int | None) -> tuple[UpdateType, int]:
    """(the update to send, its version): a differential one needs a list on the charger
    to differ from, so a charger never synced gets a full one."""
    update: UpdateType = requested if synced_version is not None else "Full"
    return update, (synced_version or 0) + 1
