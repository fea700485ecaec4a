"""Transactions (charging sessions) and their meter values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from serve_deployments.rest_routes.common import (
    ApiContext,
    BigId,
    Cursor,
    PageSize,
    errors,
    require,
)
from sigecve.db.repositories import TransactionFilter
from sigecve.domain import MeterSample, SignedMeterValue, Transaction
from sigecve.services import parameters, transactions
from sigecve.services.api_tokens import Role
from sigecve.services.transactions import TransactionPage


class TransactionMeterValues(BaseModel):
    id: int
    items: list[MeterSample]


class TransactionSignedMeterValues(BaseModel):
    id: int
    items: list[SignedMeterValue]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["transactions"])
    viewer = require(ctx, Role.viewer)

    @api.get("/transactions", response_model=TransactionPage, dependencies=[viewer])
    async def list_transactions(
        charge_point_id: parameters.ChargePointId | None = None,
        site_id: parameters.SiteId | None = None,
        id_tag: parameters.IdTagValue | None = None,
        started_from: Annotated[datetime | None, Query(description="started at or after")] = None,
        started_to: Annotated[datetime | None, Query(description="started before")] = None,
        active: Annotated[bool | None, Query(description="true: still open")] = None,
        sort: parameters.TransactionSort = "-id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> TransactionPage:
        filters = TransactionFilter(
            charge_point_id=charge_point_id,
            site_id=site_id,
            id_tag=id_tag,
            started_from=started_from,
            started_to=started_to,
            active=active,
        )
        return await transactions.list_transactions(
            ctx.repos, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    @api.get(
        "/transactions/{id}",
        response_model=Transaction,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_transaction(id: BigId) -> Transaction:
        """One transaction by SIGEC-VE's id (`id` in the list)."""
        return await transactions.get_transaction(ctx.repos, id)

    @api.get(
        "/transactions/{id}/meter-values",
        response_model=TransactionMeterValues,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def meter_values(id: BigId) -> TransactionMeterValues:
        items = await transactions.transaction_meter_values(ctx.repos, id)
        return TransactionMeterValues(id=id, items=items)

    @api.get(
        "/transactions/{id}/signed-meter-values",
        response_model=TransactionSignedMeterValues,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def signed_meter_values(id: BigId) -> TransactionSignedMeterValues:
        """Its readings as the meter signed them (1.6 SignedData, 2.x signedMeterValue, such
        as OCMF), kept as long as the transaction, for checking its bill."""
        items = await transactions.signed_meter_values(ctx.repos, id)
        return TransactionSignedMeterValues(id=id, items=items)

    return api
