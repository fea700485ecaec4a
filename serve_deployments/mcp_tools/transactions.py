"""MCP tools on transactions, as `rest_routes/transactions.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from serve_deployments.mcp_tools.base import READ_ONLY, ChargePointId, SiteId, Tools
from sigecve.db.repositories import TransactionFilter
from sigecve.services import parameters, transactions
from sigecve.services.api_tokens import Role
from sigecve.services.transactions import TransactionPage


def register(tools: Tools) -> None:
    @tools.tool(Role.viewer, READ_ONLY, "Transactions")
    async def list_transactions(
        ctx: Context,
        charge_point_id: ChargePointId | None = None,
        site_id: SiteId | None = None,
        id_tag: parameters.IdTagValue | None = None,
        started_from: Annotated[datetime | None, Field(description="started at or after")] = (None),
        started_to: Annotated[datetime | None, Field(description="started before")] = None,
        active: Annotated[bool | None, Field(description="true: only sessions running now")] = (
            None
        ),
        sort: parameters.TransactionSort = "-id",
        limit: Annotated[parameters.PageSize, Field(description="items per page")] = 20,
        cursor: Annotated[
            parameters.Cursor | None, Field(description="next_cursor of the previous page")
        ] = None,
    ) -> TransactionPage:
        """Charging sessions, newest first, filtered by charge point, site, id tag, start time
        or whether they are still running. Each has its energy in Wh; `transaction_id` is the
        charger's id, `id` SIGEC-VE's (use `id` with stop_charging_session)."""
        filters = TransactionFilter(
            charge_point_id=charge_point_id,
            site_id=site_id,
            id_tag=id_tag,
            started_from=started_from,
            started_to=started_to,
            active=active,
        )
        return await transactions.list_transactions(
            tools.api.repos, filters=filters, sort=sort, cursor=cursor, limit=limit
        )
