"""Local authorisation lists as operators see them: each charger's sync state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.domain import CommandResult
from sigecve.services.errors import NotFound


class LocalListRequest(BaseModel):
    update: Literal["full", "differential"] = Field(
        default="differential",
        description="differential: only what changed since the list the charger has (a "
        "charger never sent one gets a full list)",
    )


class LocalListSync(BaseModel):
    charge_point_id: str
    version: int | None = Field(description="the version last sent and accepted")
    update_type: str | None
    synced_at: datetime | None
    pending_changes: int = Field(description="id tags changed since: not on the charger yet")
    last_status: str | None = Field(description="its answer to the last update sent")
    charger_version: int | None = Field(description="what GetLocalListVersion last said")
    checked_at: datetime | None
    state: Literal["never synced", "in sync", "behind", "mismatch"] = Field(
        description="behind: id tags changed since; mismatch: the charger reported another "
        "version (send a full list)"
    )


class LocalListUpdate(BaseModel):
    sync: LocalListSync
    update_type: str = Field(description="what was sent: Full or Differential")
    entries: int
    result: CommandResult


def _state(row: dict | None) -> str:
    if row is None:
        return "never synced"
    if row["last_status"] == "VersionMismatch" or (
        row["charger_version"] is not None and row["charger_version"] != row["version"]
    ):
        return "mismatch"
    return "behind" if row["pending_changes"] else "in sync"


async def local_list_sync(repos: Repositories, charge_point_id: str) -> LocalListSync:
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    row = await repos.local_lists.state(charge_point_id)
    pending = row["pending_changes"] if row else await repos.local_lists.tag_count()
    return LocalListSync(
        charge_point_id=charge_point_id,
        version=row["version"] if row else None,
        update_type=row["update_type"] if row else None,
        synced_at=row["synced_at"] if row else None,
        pending_changes=pending,
        last_status=row["last_status"] if row else None,
        charger_version=row["charger_version"] if row else None,
        checked_at=row["checked_at"] if row else None,
        state=_state(row),
    )
