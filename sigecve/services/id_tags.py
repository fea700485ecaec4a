"""Id tags (RFID cards and the like) and the authorization decision."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sigecve.db.repositories import IdTagRepository, Repositories
from sigecve.domain import IdTag, IdTagStatus, IdTagUpdate
from sigecve.services.errors import Conflict, InvalidInput, NotFound
from sigecve.services.pagination import paginate


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


class IdTagPage(BaseModel):
    items: list[IdTag]
    next_cursor: str | None = None


async def get_id_tag(repos: Repositories, id_tag: str) -> IdTag:
    tag = await repos.id_tags.get(id_tag)
    if tag is None:
        raise NotFound(f"no id tag {id_tag!r}")
    return tag


async def list_id_tags(
    repos: Repositories,
    *,
    status: IdTagStatus | None = None,
    parent_id_tag: str | None = None,
    q: str | None = None,
    sort: str = "id_tag",
    cursor: str | None = None,
    limit: int = 100,
) -> IdTagPage:
    items, next_cursor = await paginate(
        lambda **page: repos.id_tags.list(
            status=status.value if status else None, parent_id_tag=parent_id_tag, q=q, **page
        ),
        IdTagRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
        id_attr="id_tag",
    )
    return IdTagPage(items=items, next_cursor=next_cursor)


async def update_id_tag(repos: Repositories, id_tag: str, update: IdTagUpdate) -> IdTag:
    changes = update.model_dump(exclude_unset=True)
    if "status" in changes:
        changes["status"] = changes["status"].value
    if changes.get("parent_id_tag") == id_tag:
        raise InvalidInput("parent_id_tag: a tag cannot be its own parent")
    tag = await repos.id_tags.update(id_tag, changes)
    if tag is None:
        raise NotFound(f"no id tag {id_tag!r}")
    return tag


async def delete_id_tag(repos: Repositories, id_tag: str) -> None:
    """Forget a tag: chargers are told Invalid from now on; past transactions keep its name."""
    if not await repos.id_tags.delete(id_tag):
        raise NotFound(f"no id tag {id_tag!r}")
