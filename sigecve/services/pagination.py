"""Cursor pagination: every list of the API pages the same way.

A cursor is opaque to clients: the sort key and id of the last item, base64url-encoded JSON.
Keyset pagination (not offsets) keeps pages stable while rows are being added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sigecve.db.keyset import keyset
from sigecve.db.repositories import EPOCH
from sigecve.services.errors import InvalidInput


def encode_cursor(sort_value: Any, last_id: Any) -> str:
    if isinstance(sort_value, datetime):
        sort_value = {"t": sort_value.isoformat()}
    raw = json.dumps([sort_value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort_type: type, id_type: type) -> tuple[Any, Any] | None:
    """(sort value, id) of the item a page starts after, checked against the types the list
    sorts by; InvalidInput for anything this API did not hand out."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_value, last_id = json.loads(raw)
        if sort_type is datetime:
            sort_value = datetime.fromisoformat(sort_value["t"])
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise InvalidInput("cursor: not a cursor this API handed out") from e
    if not (_is(sort_value, sort_type) and _is(last_id, id_type)):
        raise InvalidInput("cursor: not a cursor this API handed out")
    return sort_value, last_id


def _is(value: Any, wanted: type) -> bool:
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63
    if wanted is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, wanted)


def page_of(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Trim a `limit + 1` fetch to `limit` and make the cursor after its last item.

    `key(item)` gives (sort value, id) of an item.
    """
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*key(rows[-1]))


async def paginate(
    fetch: Callable[..., Awaitable[list[Any]]],
    repo: Any,
    *,
    sort: str,
    cursor: str | None,
    limit: int,
    id_attr: str = "id",
) -> tuple[list[Any], str | None]:
    """One page of `fetch(order=, after=, limit=)` sorted by `sort` (a key of `repo.SORTS`,
    `-` first for descending), starting after `cursor`; the items and the next cursor."""
    order = keyset(sort, repo.SORTS, repo.ID)
    after = decode_cursor(cursor, order.sort_type, order.id_type)
    rows = await fetch(order=order, after=after, limit=limit + 1)
    name = sort.removeprefix("-")

    def key(item: Any) -> tuple[Any, Any]:
        value = getattr(item, name)
        if value is None and order.null_as is not None:
            value = order.null_as
        elif value is None and order.sort_type is datetime:
            value = EPOCH
        return value, getattr(item, id_attr)

    return page_of(rows, limit, key)
