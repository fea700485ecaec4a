"""Charging sessions: start, meter values, stop; what operators query."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sigecve.db.repositories import Repositories, TransactionFilter, TransactionRepository
from sigecve.domain import IdTagStatus, MeterSample, Transaction
from sigecve.services.errors import NotFound
from sigecve.services.id_tags import authorize
from sigecve.services.pagination import paginate


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
    repos: Repositories,
    *,
    filters: TransactionFilter | None = None,
    sort: str = "-id",
    cursor: str | None = None,
    limit: int = 100,
) -> TransactionPage:
    items, next_cursor = await paginate(
        lambda **page: repos.transactions.list(filters=filters or TransactionFilter(), **page),
        TransactionRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return TransactionPage(items=items, next_cursor=next_cursor)


async def get_transaction(repos: Repositories, transaction_id: int) -> Transaction:
    tx = await repos.transactions.get(transaction_id)
    if tx is None:
        raise NotFound(f"no transaction {transaction_id}")
    return tx


async def transaction_meter_values(repos: Repositories, transaction_id: int) -> list[MeterSample]:
    await get_transaction(repos, transaction_id)
    return await repos.meter_values.for_transaction(transaction_id)
