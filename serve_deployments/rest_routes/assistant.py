"""The operator assistant over REST: a question in, its work and answer streamed out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from serve_deployments.context import ApiContext, bearer_token
from serve_deployments.rest_routes.common import errors, require
from sigecve.assistant import Assistant, AssistantState, next_turn
from sigecve.domain import Flag
from sigecve.services.api_tokens import Role
from sigecve.services.errors import NotConfigured
from sigecve.services.live_events import sse_frame

log = logging.getLogger(__name__)


class AssistantRequest(BaseModel):
    question: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        examples=["Which chargers at site porto-3 are faulted, and why?"],
    )
    state: AssistantState | None = Field(
        default=None, description="the `state` of the last event, to go on with a conversation"
    )
    approve: Flag | None = Field(
        default=None, description="with a state that has pending actions: run them or not"
    )


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["assistant"])
    viewer = require(ctx, Role.viewer)

    @api.post(
        "/assistant",
        responses={
            **errors(409, 422),
            200: {"content": {"text/event-stream": {}}, "description": "server-sent events"},
        },
        dependencies=[viewer],
    )
    async def ask(body: AssistantRequest, request: Request) -> StreamingResponse:
        """Ask the operator assistant (Claude working through SIGEC-VE's MCP tools with your
        token, so it may do what you may). Server-sent events: `text`, `tool_call`,
        `tool_result`, then `done` (with the conversation `state`, to ask a follow-up),
        `confirmation_required` (destructive actions it proposes: send the `state` back
        with `approve` true or false) or `error`. 409 `not_configured` without
        ANTHROPIC_API_KEY."""
        if ctx.assistant is None:
            raise NotConfigured("the assistant is not configured in this process")
        turn = next_turn(body.question, body.state, body.approve)
        assistant = Assistant(ctx.assistant, bearer_token(request.headers.get("authorization")))

        async def frames() -> AsyncIterator[str]:
            try:
                async for event in assistant.run(turn):
                    yield sse_frame(event.model_dump(mode="json", exclude_none=True))
            except Exception:
                # The answer has begun (200): the failure can only be told as the last event.
                log.exception("the assistant failed")
                yield sse_frame(
                    {"type": "error", "text": "internal error; the incident has been logged"}
                )

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return api
