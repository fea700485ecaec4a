"""The live stream for dashboards: server-sent events of committed changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from serve_deployments.rest_routes.common import ApiContext, errors, require
from sigecve.services import parameters
from sigecve.services.api_tokens import Role
from sigecve.services.errors import Unavailable
from sigecve.services.live_events import EventType, matches, sse_frame

KEEPALIVE_S = 15


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["live"])
    viewer = require(ctx, Role.viewer, query_token=True)

    @api.get(
        "/events/stream",
        responses={
            **errors(503),
            200: {"content": {"text/event-stream": {}}, "description": "server-sent events"},
        },
        dependencies=[viewer],
    )
    async def event_stream(
        types: Annotated[list[EventType], Query(description="none: every type")] = [],  # noqa: B006
        charge_point_id: parameters.ChargePointId | None = None,
        access_token: Annotated[
            str | None, Query(description="for EventSource, which cannot send headers")
        ] = None,
    ) -> StreamingResponse:
        """Status changes, connections, transactions, power readings and alerts as they are
        committed, as server-sent events (`event: <type>`, `data: <json>`). The first frame
        is `event: ready`; a comment every 15 s keeps proxies from closing the stream; a
        client that falls behind gets `event: lagged` and should reconnect."""
        if ctx.live is None:
            raise Unavailable("the live stream is not available in this process")
        queue = await ctx.live.subscribe()
        wanted = set(types)

        async def frames() -> AsyncIterator[str]:
            try:
                yield "event: ready\ndata: {}\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if event is None:
                        yield "event: lagged\ndata: {}\n\n"
                        return
                    if matches(event, wanted, charge_point_id):
                        yield sse_frame(event)
            finally:
                ctx.live.unsubscribe(queue)

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return api
