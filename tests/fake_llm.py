"""A local HTTP server that speaks the Messages API (`POST /v1/messages`) with scripted
replies, so the assistant is tested through the real `anthropic` client (`base_url`)."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sigecve.ports import free_listening_port

_ids = itertools.count(1)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": arguments}


@dataclass
class ApiError:
    status: int
    kind: str
    message: str


@dataclass
class FakeMessagesApi:
    replies: deque = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def script(self, *replies: list[dict[str, Any]] | ApiError) -> None:
        """The next replies, in order: a list of content blocks (stop_reason follows from
        them) or an ApiError."""
        self.replies.clear()
        self.requests.clear()
        self.replies.extend(replies)

    async def _messages(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if not self.replies:
            return _error(ApiError(500, "api_error", "the test scripted no more replies"))
        reply = self.replies.popleft()
        if isinstance(reply, ApiError):
            return _error(reply)
        uses_tools = any(block["type"] == "tool_use" for block in reply)
        return JSONResponse(
            {
                "id": f"msg_{next(_ids):04d}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": reply,
                "stop_reason": "tool_use" if uses_tools else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 10},
            }
        )

    def serve(self) -> uvicorn.Server:
        """Start serving on a free loopback port in a thread; stop with `should_exit`."""
        app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        port = free_listening_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started = threading.Event()

        def wait() -> None:
            while not server.started and thread.is_alive():
                started.wait(0.05)

        wait()
        if not server.started:
            raise RuntimeError("the fake Messages API did not start")
        self.url = f"http://127.0.0.1:{port}"
        server.thread = thread  # type: ignore[attr-defined]
        return server


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"type": "error", "error": {"type": error.kind, "message": error.message}},
        status_code=error.status,
    )
