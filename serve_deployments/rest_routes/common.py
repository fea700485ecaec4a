"""What every route module needs: the context, auth dependencies and error responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from serve_deployments.context import ApiContext, bearer_token
from sigecve.domain import Principal
from sigecve.services import parameters
from sigecve.services.api_tokens import Role, authenticate, role_allows

# Ids of rows: PostgreSQL bigint and integer ranges (beyond them is "not found", not a crash).
BigId = Annotated[int, Path(ge=1, le=2**63 - 1)]
IntId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Every list pages the same way (sigecve.services.pagination).
Cursor = Annotated[
    parameters.Cursor | None, Query(description="`next_cursor` of the previous page")
]
PageSize = Annotated[parameters.PageSize, Query(description="items per page")]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer."""
    return {s: {"model": ErrorResponse} for s in statuses}


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def require(ctx: ApiContext, role: Role, *, query_token: bool = False) -> Any:
    """A dependency giving the caller's Principal, or 401/403. `query_token` also accepts
    `?access_token=` (browsers' EventSource cannot send headers)."""

    async def check(request: Request) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        if token is None and query_token:
            token = request.query_params.get("access_token") or None
        if token is None:
            raise AuthError(401, "unauthorized", "a bearer token is required")
        principal = await authenticate(ctx.repos, token)
        if principal is None:
            raise AuthError(401, "unauthorized", "unknown or revoked token")
        request.state.principal = principal
        if not role_allows(principal.role, role):
            raise AuthError(403, "forbidden", f"this needs the {role.value} role")
        return principal

    return Depends(check)
