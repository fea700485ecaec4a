"""Id tags (RFID cards and the like) and the authorization decision."""

from __future__ import annotations

from datetime import datetime

from sigecve.db.repositories import Repositories
from sigecve.domain import IdTag, IdTagStatus
from sigecve.services.errors import Conflict


def authorization_status(tag: IdTag | None, now: datetime) -> IdTagStatus:
    """The status a charger must be told for this tag at `now` (pure)."""
    if tag is None:
        return IdTagStatus.invalid
    if (
        tag.status is IdTagStatus.accepted
        and tag.expiry_date is not None
        and tag.expiry_date <= now
    ):
        return IdTagStatus.expired
    return tag.status


async def authorize(
    repos: Repositories, id_tag: str, now: datetime
) -> tuple[IdTagStatus, IdTag | None]:
    tag = await repos.id_tags.get(id_tag)
    return authorization_status(tag, now), tag


async def create_id_tag(repos: Repositories, tag: IdTag) -> IdTag:
    if not await repos.id_tags.insert(tag):
        raise Conflict(f"id tag {tag.id_tag!r} exists already")
    return tag
