"""API tokens: bearer tokens with a role, stored hashed, created and revoked by admins."""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import BaseModel, Field

from sigecve.db.repositories import ApiTokenRepository, Repositories
from sigecve.domain import ApiTokenInfo, Principal
from sigecve.security import hash_api_token
from sigecve.services.errors import Conflict, NotFound
from sigecve.services.pagination import paginate

TOKEN_PREFIX = "sgv_"


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"


ROLE_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


def role_allows(granted: str, needed: Role) -> bool:
    return ROLE_RANK[Role(granted)] >= ROLE_RANK[needed]


class NewApiToken(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["night-shift dashboard"])
    role: Role = Field(examples=["viewer"])


class CreatedApiToken(ApiTokenInfo):
    token: str = Field(description="the secret; shown once, stored only as a hash")


class ApiTokenPage(BaseModel):
    items: list[ApiTokenInfo]
    next_cursor: str | None = None


async def authenticate(repos: Repositories, token: str) -> Principal | None:
    return await repos.api_tokens.principal_for(hash_api_token(token))


async def create_api_token(repos: Repositories, new: NewApiToken) -> CreatedApiToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = await repos.api_tokens.insert(new.name, hash_api_token(token), new.role.value)
    return CreatedApiToken(**info.model_dump(), token=token)


async def list_api_tokens(
    repos: Repositories,
    *,
    include_revoked: bool = False,
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 100,
) -> ApiTokenPage:
    items, next_cursor = await paginate(
        lambda **page: repos.api_tokens.list(include_revoked=include_revoked, **page),
        ApiTokenRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return ApiTokenPage(items=items, next_cursor=next_cursor)


async def revoke_api_token(repos: Repositories, token_id: int, caller: Principal) -> None:
    if token_id == caller.token_id:
        raise Conflict("this is the token you are calling with; revoke it from another admin")
    if not await repos.api_tokens.revoke(token_id):
        raise NotFound(f"no active token {token_id}")
