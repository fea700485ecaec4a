"""Bad and strange OCPP input on a real connection: random schema-valid messages of every
action a charger sends, mutated messages, and frames that are not OCPP at all. The system
answers each as the spec says, never with an internal error or a leak of its insides, and
the connection stays up."""

from __future__ import annotations

import json
import random

import pytest
from ocpp.messages import CallResult, validate_payload

from tests.ocpp_samples import random_sample, sample
from tests.test_ocpp_conformance import VERSIONS, RawCharger, raw_charger

EXAMPLES_PER_ACTION = 6
# What would show the system's insides: tracebacks, source paths, driver and Ray errors.
LEAKS = ("Traceback", 'File "', '.py"', ".py:", "site-packages", "/work/", "psycopg",
         "ray.exceptions", "RayActorError", " object at 0x")  # fmt: skip


def assert_no_leak(reply: list) -> None:
    text = json.dumps(reply)
    assert not any(leak in text for leak in LEAKS), reply


async def assert_alive(charger: RawCharger) -> None:
    reply = await charger.call("Heartbeat", {})
    assert reply[0] == 3 and "currentTime" in reply[2], reply


def _actions(version: str) -> list[tuple[str, str]]:
    return [(version, a) for a in sorted(VERSIONS[version][1].CHARGER_INITIATED_ACTIONS)]


@pytest.mark.parametrize("version", list(VERSIONS))
async def test_random_schema_valid_messages_get_a_valid_answer(system, version):
    """Whatever a schema allows (any enum value, optional fields or not, extreme numbers,
    odd characters, unknown transaction ids) gets a schema-valid CALLRESULT or a CALLERROR
    naming what it refuses: never an InternalError."""
    rng = random.Random(f"fuzz-{version}")
    async with raw_charger(system, version) as charger:
        for _, action in _actions(version):
            for _ in range(EXAMPLES_PER_ACTION):
                payload = random_sample(version, action, "request", rng)
                reply = await charger.call(action, payload)
                assert_no_leak(reply)
                if reply[0] == 3:
                    await validate_payload(CallResult(reply[1], reply[2], action=action), version)
                else:
                    assert reply[0] == 4 and reply[2] != "InternalError", (action, payload, reply)
        await assert_alive(charger)


def _mutations(payload: dict, rng: random.Random) -> list[dict]:
    """Schema violations of a valid payload: a required field missing, a field of the wrong
    type, an unknown field, a nested object replaced by a list."""
    out = []
    if payload:
        key = rng.choice(sorted(payload))
        out.append({k: v for k, v in payload.items() if k != key})
        out.append({**payload, key: [[{"deep": None}]]})
        out.append({**payload, key: 10**30})
    out.append({**payload, "notAField": "x"})
    return out


@pytest.mark.parametrize("version", list(VERSIONS))
async def test_schema_violations_get_the_specs_call_errors(system, version):
    rng = random.Random(f"mutate-{version}")
    expected = {
        "FormationViolation",
        "FormatViolation",
        "PropertyConstraintViolation",
        "TypeConstraintViolation",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
        "ProtocolError",
    }
    async with raw_charger(system, version) as charger:
        for _, action in _actions(version):
            for payload in _mutations(sample(version, action, "request"), rng):
                reply = await charger.call(action, payload)
                assert_no_leak(reply)
                if reply[0] == 3:  # a mutation the schema allows (an optional field dropped)
                    continue
                assert reply[2] in expected, (action, payload, reply)
        await assert_alive(charger)


NOT_OCPP = [
    "",
    "not json",
    "{}",
    "null",
    "[]",
    "[2]",
    '[2, "a"]',
    '[2, 17, "Heartbeat", {}]',
    '[9, "a", "Heartbeat", {}]',
    '[2, "a", "NoSuchAction", {}]',
    '[2, "a", "Heartbeat", []]',
    '[2, "a", "Heartbeat", {}, "extra"]',
    '[2, "' + "u" * 200 + '", "Heartbeat", {}]',
    '[2, "a", "Heartbeat", ' + "[" * 5000 + "]" * 5000 + "]",
    '[2, "a", "Heartbeat", {"x": 1e999}]',
    '[2, "a\\u0000b", "Heartbeat", {}]',
    '[2, "a", "Heartbeat", {}',
    '[2, "a", "H\u00e9artbeat", {}]',
]


@pytest.mark.parametrize("version", list(VERSIONS))
async def test_frames_that_are_not_ocpp_are_refused_and_the_connection_stays(system, version):
    rng = random.Random(f"noise-{version}")
    frames: list[str | bytes] = list(NOT_OCPP)
    frames += [bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) for _ in range(5)]
    frames += ["".join(chr(rng.randint(32, 0x2FFF)) for _ in range(40)) for _ in range(5)]
    async with raw_charger(system, version) as charger:
        for frame in frames:
            try:
                reply = await charger.send_frame(frame)
            except TimeoutError:
                raise AssertionError(f"no answer to {frame!r:.200}") from None
            assert reply[0] == 4, (frame, reply)
            assert_no_leak(reply)
        # Answers and errors for calls the CSMS never made are ignored, not answered.
        await charger.ws.send(json.dumps([3, "never-asked", {}]))
        await charger.ws.send(json.dumps([4, "never-asked", "GenericError", "", {}]))
        await assert_alive(charger)


MCP_NOISE = [
    None,
    "",
    "x\u0000y",
    "\U0001f600" * 500,
    -1,
    2**63,
    1e308,
    True,
    [],
    {"nested": {"deep": [1, 2]}},
]


async def test_mcp_tools_refuse_bad_arguments_cleanly(system):
    """Every MCP tool called (as an operator: the admin-only ones refused by role) with
    arguments of every wrong kind answers a tool error or a result; never a transport
    failure, and no error text carries the system's insides."""
    from tests.test_mcp import mcp_client

    rng = random.Random("mcp-fuzz")
    async with mcp_client(system, await _operator_token(system, "mcp fuzz")) as client:
        tools = (await client.list_tools()).tools
    # Three calls a tool; a token of their own for every ten tools keeps each token within
    # its burst (a tenth of SIGECVE_MCP_RATE_PER_MIN): past it the answer is 429, as it
    # should be, and not what this test is about.
    for first in range(0, len(tools), 10):
        token = await _operator_token(system, f"mcp fuzz {first}")
        async with mcp_client(system, token) as client:
            for tool in tools[first : first + 10]:
                properties = sorted(tool.input_schema.get("properties", {}))
                for _ in range(3):
                    arguments = {name: rng.choice(MCP_NOISE) for name in properties}
                    if rng.random() < 0.3:
                        arguments["unexpected"] = rng.choice(MCP_NOISE)
                    try:
                        result = await client.call_tool(tool.name, arguments)
                    except Exception as e:
                        shown = {
                            k: v[:12] if isinstance(v, str) else v for k, v in arguments.items()
                        }
                        raise AssertionError(f"{tool.name} {shown!r}: {e!r}") from None
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    assert not any(leak in text for leak in LEAKS), (tool.name, arguments, text)
            # Still serving.
            assert (await client.list_tools()).tools


async def _operator_token(system, name: str) -> str:
    async with system.api() as admin:
        r = await admin.post("/tokens", json={"name": name, "role": "operator"})
        assert r.status_code == 201, r.text
        return r.json()["token"]
