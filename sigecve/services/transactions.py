"""Charging sessions: start, meter values, stop; what operators query."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sigecve.db.repositories import Repositories, TransactionFilter, TransactionRepository
from sigecve.domain import IdTagStatus, MeterSample, SignedMeterValue, Transaction
from sigecve.services import reservations
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
    # A connector reserved for another tag is refused to this one (the charger ends it).
    status = IdTagStatus(
        await reservations.status_on_connector(
            repos, charge_point_id, connector_id, id_tag, status.value, started_at
        )
    )
    transaction_id = await repos.transactions.start(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        reservation_id=reservation_id,
        id_tag_status=status.value,
    )
    if status is IdTagStatus.accepted:
        await reservations.use_reservation(
            repos,
            charge_point_id,
            reservation_id=reservation_id,
            connector_id=connector_id,
            id_tag=id_tag,
            transaction_id=transaction_id,
            at=started_at,
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


async def record_signed_meter_values(
    repos: Repositories, charge_point_id: str, values: list[SignedMeterValue]
) -> None:
    """Keep signed readings; one naming a transaction this charge point never had is kept
    without it. A reading of a known transaction on no connector gets the transaction's."""
    if not values:
        return
    ids = {v.transaction_id for v in values if v.transaction_id is not None}
    known = {t.id: t for t in [await repos.transactions.get(i) for i in ids] if t is not None}
    for v in values:
        t = known.get(v.transaction_id) if v.transaction_id is not None else None
        if t is None or t.charge_point_id != charge_point_id:
            v.transaction_id = None
        elif v.connector_id == 0:
            v.connector_id = t.connector_id
    await repos.meter_values.add_signed(charge_point_id, values)


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


async def signed_meter_values(repos: Repositories, transaction_id: int) -> list[SignedMeterValue]:
    """The transaction's readings as its meter signed them, to check its bill against."""
    await get_transaction(repos, transaction_id)
    return await repos.meter_values.signed_for_transaction(transaction_id)
