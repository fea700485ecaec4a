"""The operator assistant: Claude (the `anthropic` SDK) working through SIGEC-VE's own MCP
server, so Claude Desktop/Code and this assistant share one tool surface and one set of
roles. Destructive tools are proposed to the operator and run only once the operator
approves; the conversation state goes back to the caller, so the assistant keeps none."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field

from sigecve.prompts import ASSISTANT_SYSTEM_PROMPT
from sigecve.services.errors import InvalidInput, NotConfigured

DEFAULT_MODEL = "claude-sonnet-4-5"
MAX_STEPS = 12
MAX_TOKENS = 2048
MAX_RESULT_CHARS = 20_000


class ProposedAction(BaseModel):
    """A destructive tool call the model asked for, waiting for the operator's decision."""

    id: str = Field(description="the model's tool_use id")
    tool: str
    arguments: dict[str, Any]
    title: str | None = None


class AssistantState(BaseModel):
    """Where a conversation stands: send it back to continue, or to decide on `pending`."""

    messages: list[dict[str, Any]] = Field(description="the conversation, Messages API form")
    pending: list[ProposedAction] = Field(default=[], description="awaiting approve/decline")
    results: list[dict[str, Any]] = Field(
        default=[], description="tool results of the same turn already obtained"
    )


class AssistantEvent(BaseModel):
    type: Literal["text", "tool_call", "tool_result", "confirmation_required", "done", "error"]
    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    is_error: bool | None = None
    pending: list[ProposedAction] | None = None
    state: AssistantState | None = None


@dataclass(frozen=True)
class AssistantConfig:
    mcp_url: str
    api_key: str | None
    base_url: str | None = None
    model: str | None = None
    verify_tls: bool = True  # False when a replica calls its own system (own certificate)

    def check(self) -> None:
        if not self.api_key:
            raise NotConfigured(
                "the assistant is not configured: it needs ANTHROPIC_API_KEY (and, optionally, "
                "ANTHROPIC_BASE_URL and SIGECVE_LLM_MODEL) in the environment of `sigecve up` "
                "or `sigecve ask`"
            )


def _block_to_param(block: Any) -> dict[str, Any] | None:
    """A response content block as the Messages API takes it back (text and tool use)."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return None


def _tool_result(tool_use_id: str, text: str, is_error: bool) -> dict[str, Any]:
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + " ...(cut)"
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": text,
        "is_error": is_error,
    }


class Assistant:
    """One operator's assistant: the operator's token reaches MCP, so it may do what they may."""

    def __init__(self, config: AssistantConfig, token: str) -> None:
        config.check()
        self.config = config
        self.token = token

    @contextlib.asynccontextmanager
    async def _mcp(self) -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
            verify=self.config.verify_tls,
        )
        transport = streamable_http_client(self.config.mcp_url, http_client=http)
        async with http, Client(transport) as client:
            yield client

    async def run(self, turn: Turn) -> AsyncIterator[AssistantEvent]:
        """Play a turn (see `next_turn`) as a stream of events ending in `done`,
        `confirmation_required` or `error`."""
        messages, results = turn.messages, turn.results
        llm = anthropic.AsyncAnthropic(api_key=self.config.api_key, base_url=self.config.base_url)
        try:
            async with llm, self._mcp() as mcp:
                tools = (await mcp.list_tools()).tools
                destructive = {
                    t.name for t in tools if t.annotations and t.annotations.destructive_hint
                }
                titles = {t.name: t.title for t in tools}
                for action in turn.pending:
                    if turn.approve:
                        yield AssistantEvent(
                            type="tool_call", tool=action.tool, arguments=action.arguments
                        )
                        result, event = await _call(mcp, action.id, action.tool, action.arguments)
                        yield event
                    else:
                        result = _tool_result(action.id, "the operator declined this action", True)
                        yield AssistantEvent(
                            type="tool_result", tool=action.tool, text="declined", is_error=True
                        )
                    results.append(result)
                if results:
                    messages.append({"role": "user", "content": results})
                tool_defs = [
                    {
                        "name": t.name,
                        "description": t.description or "",
                        "input_schema": t.input_schema,
                    }
                    for t in tools
                ]
                async for event in self._loop(llm, mcp, messages, tool_defs, destructive, titles):
                    yield event
        except Exception as e:  # the MCP client's task group wraps what it raises in a group
            cause = _innermost(e)
            if not isinstance(cause, (httpx2.HTTPError, MCPError)):
                raise
            yield AssistantEvent(
                type="error",
                text=f"SIGEC-VE's MCP server at {self.config.mcp_url} failed: {cause}",
            )

    async def _loop(
        self,
        llm: anthropic.AsyncAnthropic,
        mcp: Client,
        messages: list[dict[str, Any]],
        tool_defs: list[dict[str, Any]],
        destructive: set[str],
        titles: dict[str, str | None],
    ) -> AsyncIterator[AssistantEvent]:
        for _ in range(MAX_STEPS):
            try:
                response = await llm.messages.create(
                    model=self.config.model or DEFAULT_MODEL,
                    max_tokens=MAX_TOKENS,
                    system=ASSISTANT_SYSTEM_PROMPT,
                    tools=tool_defs,
                    messages=messages,
                )
            except anthropic.APIError as e:
                yield AssistantEvent(
                    type="error", text=f"the language model failed: {_describe(e)}"
                )
                return
            content = [p for p in map(_block_to_param, response.content) if p is not None]
            messages.append({"role": "assistant", "content": content})
            uses = [b for b in response.content if b.type == "tool_use"]
            for block in response.content:
                if block.type == "text" and block.text:
                    yield AssistantEvent(type="text", text=block.text)
            if response.stop_reason != "tool_use" or not uses:
                yield AssistantEvent(type="done", state=AssistantState(messages=messages))
                return
            results: list[dict[str, Any]] = []
            pending: list[ProposedAction] = []
            for use in uses:
                arguments = dict(use.input) if isinstance(use.input, dict) else {}
                if use.name in destructive:
                    pending.append(
                        ProposedAction(
                            id=use.id,
                            tool=use.name,
                            arguments=arguments,
                            title=titles.get(use.name),
                        )
                    )
                    continue
                yield AssistantEvent(type="tool_call", tool=use.name, arguments=arguments)
                result, event = await _call(mcp, use.id, use.name, arguments)
                results.append(result)
                yield event
            if pending:
                state = AssistantState(messages=messages, pending=pending, results=results)
                yield AssistantEvent(type="confirmation_required", pending=pending, state=state)
                return
            messages.append({"role": "user", "content": results})
        yield AssistantEvent(
            type="error", text=f"stopped after {MAX_STEPS} steps without a final answer"
        )


@dataclass
class Turn:
    """What the assistant goes on with: the conversation, tool results already in hand, and
    the pending actions with the operator's decision on them."""

    messages: list[dict[str, Any]]
    results: list[dict[str, Any]]
    pending: list[ProposedAction]
    approve: bool = False


def next_turn(
    question: str | None, state: AssistantState | None = None, approve: bool | None = None
) -> Turn:
    """The turn a request asks for, or InvalidInput naming what is missing (pure)."""
    if state is None:
        if not question:
            raise InvalidInput("question: ask something (or send back a state)")
        return Turn([{"role": "user", "content": question}], [], [])
    messages = list(state.messages)
    if state.pending:
        if approve is None:
            raise InvalidInput("approve: say true or false for the pending actions")
        if question:
            raise InvalidInput("question: decide the pending actions first")
        return Turn(messages, list(state.results), list(state.pending), approve)
    if not question:
        raise InvalidInput("question: nothing is pending; ask a follow-up question")
    return Turn([*messages, {"role": "user", "content": question}], [], [])


async def _call(
    mcp: Client, tool_use_id: str, tool: str, arguments: dict[str, Any]
) -> tuple[dict[str, Any], AssistantEvent]:
    result = await mcp.call_tool(tool, arguments)
    if result.structured_content is not None and not result.is_error:
        text = json.dumps(result.structured_content)
    else:
        text = "\n".join(c.text for c in result.content if getattr(c, "text", None))
    event = AssistantEvent(
        type="tool_result", tool=tool, text=text[:2000], is_error=result.is_error
    )
    return _tool_result(tool_use_id, text, bool(result.is_error)), event


def _innermost(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _describe(error: anthropic.APIError) -> str:
    """`401 invalid x-api-key`: the status and the API's own message, not the raw body."""
    body = error.body if isinstance(error.body, dict) else {}
    message = (body.get("error") or {}).get("message") or error.message
    status = getattr(error, "status_code", None)
    return f"{status} {message}" if status else message
