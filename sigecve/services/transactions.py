"""Charging sessions: start, meter values, stop; what operators query."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sigecve.db.repositories import Repositories
from sigecve.domain import IdTagStatus, MeterSample, Transaction
from sigecve.services.id_tags import authorize


class TransactionPage(BaseModel):
    items: list[Transaction]
    next_cursor: str | None = None


async def start_transaction(
    repos: Repositories,
    *,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    started_at: datetime,
    reservation_id: int | None,
    now: datetime,
) -> tuple[int, IdTagStatus]:
    """Record the start (committed before returning) and the tag's status for the charger.

    OCPP 1.6 has the charger start first and ask later, so a start with a refused tag is
    recorded too: the charger ends it when it reads the status.
    """
    status, _ = await authorize(repos, id_tag, now)
    transaction_id = await repos.transactions.start(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        reservation_id=reservation_id,
        id_tag_status=status.value,
    )
    return transaction_id, status


async def record_meter_values(
    repos: Repositories, charge_point_id: str, samples: list[MeterSample]
) -> None:
    """Store samples; a transaction id this charge point never had is kept as NULL, not refused."""
    known = await repos.transactions.known_ids(
        charge_point_id, (s.transaction_id for s in samples if s.transaction_id is not None)
    )
    for s in samples:
        if s.transaction_id is not None and s.transaction_id not in known:
            s.transaction_id = None
    await repos.meter_values.add(charge_point_id, samples)


async def stop_transaction(
    repos: Repositories,
    *,
    charge_point_id: str,
    transaction_id: int,
    meter_stop_wh: int,
    stopped_at: datetime,
    reason: str | None,
    id_tag: str | None,
    samples: list[MeterSample],
    now: datetime,
) -> tuple[bool, IdTagStatus | None]:
    """(whether the transaction was known, the stopping tag's status if a tag was given)."""
    known = await repos.transactions.stop(
        charge_point_id=charge_point_id,
        transaction_id=transaction_id,
        stopped_at=stopped_at,
        meter_stop_wh=meter_stop_wh,
        reason=reason,
        id_tag=id_tag,
        samples=samples,
    )
    status = (await authorize(repos, id_tag, now))[0] if id_tag else None
    return known, status


async def list_transactions(
    repos: Repositories, *, charge_point_id: str | None, cursor: str | None, limit: int
) -> TransactionPage:
    before = int(cursor) if cursor else None
    items = await repos.transactions.list(
        charge_point_id=charge_point_id, before_id=before, limit=limit + 1
    )
    more = len(items) > limit
    items = items[:limit]
    return TransactionPage(items=items, next_cursor=str(items[-1].transaction_id) if more else None)
