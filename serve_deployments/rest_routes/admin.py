"""API tokens, the audit log, and who am I."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from serve_deployments.rest_routes.common import (
    ApiContext,
    BigId,
    Cursor,
    PageSize,
    errors,
    require,
)
from sigecve.domain import Principal
from sigecve.services import api_tokens, audit
from sigecve.services.api_tokens import ApiTokenPage, CreatedApiToken, NewApiToken, Role
from sigecve.services.audit import AuditPage


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["access"])
    viewer = require(ctx, Role.viewer)
    admin = require(ctx, Role.admin)

    @api.get("/me", response_model=Principal)
    async def whoami(principal: Principal = viewer) -> Principal:
        """The calling token's id, name and role."""
        return principal

    @api.post("/tokens", status_code=201, response_model=CreatedApiToken, dependencies=[admin])
    async def create_token(body: NewApiToken) -> CreatedApiToken:
        """A new bearer token; its secret is in this answer only."""
        return await api_tokens.create_api_token(ctx.repos, body)

    @api.get("/tokens", response_model=ApiTokenPage, dependencies=[admin])
    async def list_tokens(
        include_revoked: bool = False,
        sort: Literal["id", "-id"] = "id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> ApiTokenPage:
        return await api_tokens.list_api_tokens(
            ctx.repos, include_revoked=include_revoked, sort=sort, cursor=cursor, limit=limit
        )

    @api.delete("/tokens/{token_id}", status_code=204, responses=errors(404, 409))
    async def revoke_token(token_id: BigId, principal: Principal = admin) -> Response:
        await api_tokens.revoke_api_token(ctx.repos, token_id, principal)
        return Response(status_code=204)

    @api.get("/audit-log", response_model=AuditPage, dependencies=[admin])
    async def audit_log(
        token_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
        interface: Literal["rest", "mcp"] | None = None,
        since: datetime | None = None,
        sort: Literal["-id", "id"] = "-id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> AuditPage:
        """Every write through REST and MCP, newest first: who, what, and the outcome."""
        return await audit.list_audit_entries(
            ctx.repos,
            token_id=token_id,
            interface=interface,
            since=since,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    return api
