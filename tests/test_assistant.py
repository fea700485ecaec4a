"""The operator assistant through the real `anthropic` client against a local server that
speaks the Messages API with scripted replies, acting through SIGEC-VE's own MCP server:
multi-step tool use, destructive actions declined and approved, roles, API errors, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
from ocpp.v16 import call

from serve_deployments.context import ApiContext
from serve_deployments.rest_api import build_rest_app
from sigecve.assistant import AssistantConfig
from sigecve.ocpp.timestamps import now_timestamp
from tests.conftest import RunningSystem, eventually, unique_id
from tests.fake_llm import ApiError, FakeMessagesApi, text, tool_use
from tests.test_rest_api import charger, register


def events_of(r: httpx.Response) -> list[tuple[str, dict]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    out = []
    for frame in r.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


async def ask(system: RunningSystem, body: dict, token: str | None = None) -> list:
    async with system.api(token) as api:
        return events_of(await api.post("/assistant", json=body))


def tool_results_sent(request: dict) -> list[dict]:
    """The tool results in the last message of a request the assistant made to the model."""
    return [b for b in request["messages"][-1]["content"] if b["type"] == "tool_result"]


async def sent_resets(system: RunningSystem, cp_id: str) -> int:
    async with system.api() as api:
        log = (await api.get(f"/charge-points/{cp_id}/log", params={"limit": 200})).json()
    return sum(1 for f in log["frames"] if f["direction"] == "out" and f["action"] == "Reset")


async def test_a_multi_step_question_is_answered_through_mcp_tools(system, llm):
    cp_id = unique_id("ASK")
    async with system.api() as api:
        await register(api, cp_id)
    async with charger(system, cp_id) as cp:
        await cp.send(
            call.StatusNotification(
                connector_id=2,
                error_code="HighTemperature",
                status="Faulted",
                timestamp=now_timestamp(),
            )
        )
        llm.script(
            [text("Let me look."), tool_use("get_charge_point_status", {"charge_point_id": cp_id})],
            [tool_use("diagnose_charge_point", {"charge_point_id": cp_id})],
            [text(f"{cp_id} connector 2 is faulted by high temperature.")],
        )
        events = await ask(system, {"question": f"What is wrong with {cp_id}?"})
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "text",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "text",
        "done",
    ]
    assert events[-2][1]["text"] == f"{cp_id} connector 2 is faulted by high temperature."
    first, second, third = llm.requests
    assert first["model"] == "claude-test-model"
    assert "operator assistant of SIGEC-VE" in first["system"]
    assert {t["name"] for t in first["tools"]} >= {"diagnose_charge_point", "send_remote_reset"}
    assert first["messages"] == [{"role": "user", "content": f"What is wrong with {cp_id}?"}]
    (status,) = tool_results_sent(second)
    assert json.loads(status["content"])["charge_point"]["id"] == cp_id
    (diagnosis,) = tool_results_sent(third)
    assert "HighTemperature" in json.loads(diagnosis["content"])["suggested_action"]
    # The conversation can go on: the state comes back with `done`.
    state = events[-1][1]["state"]
    llm.script([text("Lower its power limit and inspect the cooling.")])
    events = await ask(system, {"question": "What should I do?", "state": state})
    assert [k for k, _ in events] == ["text", "done"]
    assert len(llm.requests[0]["messages"]) == len(state["messages"]) + 1


async def test_a_destructive_action_waits_for_the_operator_and_a_decline_stops_it(system, llm):
    cp_id = unique_id("ASKNO")
    async with system.api() as api:
        await register(api, cp_id)
    async with charger(system, cp_id):
        llm.script(
            [text("I will reset it."), tool_use("send_remote_reset", {"charge_point_id": cp_id})]
        )
        events = await ask(system, {"question": f"Reset {cp_id}"})
        assert [k for k, _ in events] == ["text", "confirmation_required"]
        proposal = events[-1][1]
        (action,) = proposal["pending"]
        assert (action["tool"], action["arguments"]) == (
            "send_remote_reset",
            {"charge_point_id": cp_id},
        )
        assert await sent_resets(system, cp_id) == 0

        llm.script([text("Understood, I left it alone.")])
        events = await ask(system, {"state": proposal["state"], "approve": False})
        assert [k for k, _ in events] == ["tool_result", "text", "done"]
        (declined,) = tool_results_sent(llm.requests[0])
        assert declined["is_error"] is True and "declined" in declined["content"]
        assert await sent_resets(system, cp_id) == 0


async def test_an_approved_destructive_action_runs(system, llm):
    cp_id = unique_id("ASKYES")
    async with system.api() as api:
        await register(api, cp_id)
    async with charger(system, cp_id):
        llm.script([tool_use("send_remote_reset", {"charge_point_id": cp_id, "kind": "soft"})])
        proposal = (await ask(system, {"question": f"Reset {cp_id}"}))[-1][1]
        llm.script([text("Reset accepted; it will reboot when idle.")])
        events = await ask(system, {"state": proposal["state"], "approve": True})
        assert [k for k, _ in events] == ["tool_call", "tool_result", "text", "done"]
        (ran,) = tool_results_sent(llm.requests[0])
        assert ran["is_error"] is False
        assert json.loads(ran["content"])["status"] == "Accepted"

        async def reset_sent():
            return await sent_resets(system, cp_id) == 1

        await eventually(reset_sent, within=10, message="no Reset reached the charger")


async def test_the_assistant_may_do_only_what_its_callers_token_may(system, llm):
    async with system.api() as api:
        viewer = (await api.post("/tokens", json={"name": "ask viewer", "role": "viewer"})).json()
    llm.script([tool_use("send_remote_reset", {"charge_point_id": "ANY-CP"})])
    proposal = (await ask(system, {"question": "Reset ANY-CP"}, viewer["token"]))[-1][1]
    llm.script([text("I am not allowed to reset chargers.")])
    events = await ask(system, {"state": proposal["state"], "approve": True}, viewer["token"])
    assert events[1] == (
        "tool_result",
        {
            "type": "tool_result",
            "tool": "send_remote_reset",
            "text": events[1][1]["text"],
            "is_error": True,
        },
    )
    (refused,) = tool_results_sent(llm.requests[0])
    assert "forbidden" in refused["content"] and "operator" in refused["content"]


async def test_bad_requests_and_model_errors_are_reported(system, llm):
    async with system.api() as api:
        r = await api.post("/assistant", json={})
        assert r.status_code == 422 and "question" in r.json()["error"]["message"]
        r = await api.post("/assistant", json={"question": ""})
        assert r.status_code == 422
    llm.script(ApiError(400, "invalid_request_error", "prompt is too long"))
    events = await ask(system, {"question": "Summarise the week"})
    ((kind, data),) = events
    assert kind == "error"
    assert "400" in data["text"] and "prompt is too long" in data["text"]


def run_ask(system: RunningSystem, fake: FakeMessagesApi, *args: str, **env: str):
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SIGECVE_"))},
        "ANTHROPIC_API_KEY": "sk-test-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "SIGECVE_TOKEN": system.admin_token,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "composition.cli", "ask", "--url", system.http, *args],
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


async def test_sigecve_ask_answers_asks_before_acting_and_needs_a_key(system, llm):
    cp_id = unique_id("CLI")
    async with system.api() as api:
        await register(api, cp_id)
    async with charger(system, cp_id):
        llm.script(
            [tool_use("get_charge_point_status", {"charge_point_id": cp_id})],
            [text(f"{cp_id} is connected and idle.")],
        )
        done = await asyncio.to_thread(run_ask, system, llm, f"How is {cp_id}?")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{cp_id} is connected and idle."
        assert "-> get_charge_point_status" in done.stderr

        # Not a terminal and no --yes: the proposal is declined, the model is told so.
        llm.script(
            [tool_use("send_remote_reset", {"charge_point_id": cp_id})],
            [text("Left it alone.")],
        )
        done = await asyncio.to_thread(run_ask, system, llm, f"Reset {cp_id}")
        assert done.returncode == 0, done.stderr
        assert "The assistant proposes:" in done.stdout and "Declined" in done.stdout
        assert await sent_resets(system, cp_id) == 0

        llm.script(
            [tool_use("send_remote_reset", {"charge_point_id": cp_id})],
            [text("Reset.")],
        )
        done = await asyncio.to_thread(run_ask, system, llm, f"Reset {cp_id}", "--yes")
        assert done.returncode == 0, done.stderr
        assert "Approved (--yes)." in done.stdout and done.stdout.strip().endswith("Reset.")

    llm.script(ApiError(401, "authentication_error", "invalid x-api-key"))
    failed = await asyncio.to_thread(run_ask, system, llm, "hello")
    assert failed.returncode == 1 and "401 invalid x-api-key" in failed.stderr
    assert "Traceback" not in failed.stderr and "Error" not in failed.stderr
    no_key = await asyncio.to_thread(run_ask, system, llm, "hello", ANTHROPIC_API_KEY="")
    assert no_key.returncode == 2 and "ANTHROPIC_API_KEY" in no_key.stderr


async def test_the_assistant_without_a_key_answers_409_not_configured(system, repos):
    """A fresh install has no ANTHROPIC_API_KEY: a monitor must not see a server error. The
    REST app is built as a replica builds it, in this process, with no key in its settings."""
    ctx = ApiContext(repos, None, None)  # type: ignore[arg-type]
    ctx.assistant = AssistantConfig(mcp_url=f"{system.http}/mcp", api_key=None)
    transport = httpx.ASGITransport(app=build_rest_app(ctx))
    auth = {"Authorization": f"Bearer {system.admin_token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as api:
        r = await api.post("/assistant", json={"question": "hello"}, headers=auth)
        documented = build_rest_app(ctx).openapi()["paths"]["/assistant"]["post"]["responses"]
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "not_configured" and "ANTHROPIC_API_KEY" in error["message"]
    assert "409" in documented
