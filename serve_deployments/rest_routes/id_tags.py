"""Id tags (RFID cards and other tokens) and who holds them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from serve_deployments.rest_routes.common import ApiContext, Cursor, PageSize, errors, require
from sigecve.domain import IdTag, IdTagStatus, IdTagUpdate
from sigecve.services import id_tags
from sigecve.services.api_tokens import Role
from sigecve.services.id_tags import IdTagPage


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["id tags"])
    viewer, operator, _ = (require(ctx, r) for r in Role)

    @api.post(
        "/id-tags",
        status_code=201,
        response_model=IdTag,
        responses=errors(409),
        dependencies=[operator],
    )
    async def create_id_tag(body: IdTag) -> IdTag:
        return await id_tags.create_id_tag(ctx.repos, body)

    @api.get("/id-tags", response_model=IdTagPage, dependencies=[viewer])
    async def list_id_tags(
        status: IdTagStatus | None = None,
        parent_id_tag: Annotated[str | None, Query(max_length=36)] = None,
        q: Annotated[str | None, Query(max_length=100, description="tag or owner contains")] = (
            None
        ),
        sort: Literal["id_tag", "-id_tag"] = "id_tag",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> IdTagPage:
        return await id_tags.list_id_tags(
            ctx.repos,
            status=status,
            parent_id_tag=parent_id_tag,
            q=q,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @api.get(
        "/id-tags/{id_tag}", response_model=IdTag, responses=errors(404), dependencies=[viewer]
    )
    async def get_id_tag(id_tag: str) -> IdTag:
        return await id_tags.get_id_tag(ctx.repos, id_tag)

    @api.patch(
        "/id-tags/{id_tag}",
        response_model=IdTag,
        responses=errors(404, 422),
        dependencies=[operator],
    )
    async def update_id_tag(id_tag: str, body: IdTagUpdate) -> IdTag:
        """Block or unblock (`status`), change expiry, parent (group) or owner."""
        return await id_tags.update_id_tag(ctx.repos, id_tag, body)

    @api.delete(
        "/id-tags/{id_tag}", status_code=204, responses=errors(404), dependencies=[operator]
    )
    async def delete_id_tag(id_tag: str) -> Response:
        """Forget the tag: chargers are told Invalid from now on; past sessions keep it."""
        await id_tags.delete_id_tag(ctx.repos, id_tag)
        return Response(status_code=204)

    return api
