"""OCPP-J framing errors: the CALLERROR each version's spec names for a frame we cannot take.

1.6 and 2.0.1 spell some codes differently (FormationViolation / FormatViolation,
OccurenceConstraintViolation / OccurrenceConstraintViolation) and 1.6 has no
RpcFrameworkError or MessageTypeNotSupported; `error_code` maps a code to the version's word.
2.1 spells them as 2.0.1 does and adds two message types: CALLRESULTERROR (5, the answer to a
CALLRESULT that could not be taken) and SEND (6, a message that is never answered).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallError, CallResult

_TO_16 = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    "RpcFrameworkError": "ProtocolError",
    "MessageTypeNotSupported": "ProtocolError",
}
_TO_201 = {
    "FormationViolation": "FormatViolation",
    "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
}
UNKNOWN_MESSAGE_ID = "-1"  # OCPP-J: the id to answer with when the frame's id cannot be read
MAX_UNIQUE_ID = 36  # OCPP-J: a message id is at most 36 characters
INT32 = (-(2**31), 2**31 - 1)  # OCPP's "integer" is 32-bit in both versions


def error_code(code: str, protocol: str) -> str:
    table = _TO_16 if protocol == "ocpp1.6" else _TO_201
    return table.get(code, code)


def call_error_frame(
    unique_id: str, code: str, description: str, protocol: str, details: dict | None = None
) -> str:
    return json.dumps(
        [4, unique_id, error_code(code, protocol), description[:255], details or {}],
        separators=(",", ":"),
    )


def _readable_unique_id(frame: str) -> str:
    match = re.match(r'\s*\[\s*\d+\s*,\s*"([^"\\]{1,36})"', frame)
    return match.group(1) if match else UNKNOWN_MESSAGE_ID


@dataclass(frozen=True)
class Send:
    """An OCPP 2.1 SEND: like a CALL, but the receiver never answers it, not even an error."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    message_type_id = 6


@dataclass(frozen=True)
class CallResultError:
    """An OCPP 2.1 CALLRESULTERROR: the charger could not take a CALLRESULT we sent it."""

    unique_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any]
    message_type_id = 5


Message = Call | CallResult | CallError | Send | CallResultError
_MESSAGE_CLASSES: dict[int, type] = {
    2: Call,
    3: CallResult,
    4: CallError,
    5: CallResultError,
    6: Send,
}
_TYPE_NAMES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR", 5: "CALLRESULTERROR", 6: "SEND"}
# The message types each version has.
_MESSAGE_TYPES = {"ocpp1.6": (2, 3, 4), "ocpp2.0.1": (2, 3, 4), "ocpp2.1": (2, 3, 4, 5, 6)}


def read_frame(frame: str, protocol: str) -> tuple[Message | None, str | None]:
    """(the message, None) for a well-formed OCPP-J RPC frame, else (None, the CALLERROR to
    answer with), or (None, None) for a 2.1 SEND or CALLRESULTERROR that cannot be taken
    (those are never answered) (pure). The frame is parsed once; actions and payload schemas are the
    router's to check."""
    rpc_error = "ProtocolError" if protocol == "ocpp1.6" else "RpcFrameworkError"
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError) as e:
        syntax = "FormatViolation" if protocol == "ocpp1.6" else "RpcFrameworkError"
        why = "nested too deep" if isinstance(e, RecursionError) else "not valid JSON"
        return None, call_error_frame(
            _readable_unique_id(frame), syntax, f"frame is {why}", protocol
        )
    if not isinstance(message, list) or not message:
        return None, call_error_frame(
            UNKNOWN_MESSAGE_ID, rpc_error, "frame is not a JSON array", protocol
        )
    unique_id = message[1] if len(message) > 1 and isinstance(message[1], str) else None
    types = _MESSAGE_TYPES.get(protocol, (2, 3, 4))
    if message[0] not in types:
        known = ", ".join(f"{_TYPE_NAMES[t]} ({t})" for t in types)
        return None, call_error_frame(
            unique_id or UNKNOWN_MESSAGE_ID,
            "MessageTypeNotSupported",
            f"message type {message[0]!r} is not one of {known}",
            protocol,
        )
    well_formed = unique_id is not None and (
        (
            message[0] in (2, 6)
            and len(message) == 4
            and isinstance(message[2], str)
            and isinstance(message[3], dict)
        )
        or (message[0] == 3 and len(message) == 3)
        or (message[0] in (4, 5) and len(message) == 5)
    )
    if not well_formed:
        if message[0] in (5, 6):
            return None, None  # never answered, not even with an error
        return None, call_error_frame(
            unique_id or UNKNOWN_MESSAGE_ID,
            rpc_error,
            "expected [2, id, action, {payload}], [3, id, {payload}] or "
            "[4, id, code, description, {details}]",
            protocol,
        )
    if len(unique_id) > MAX_UNIQUE_ID or "\x00" in unique_id:
        if message[0] in (5, 6):
            return None, None
        return None, call_error_frame(
            unique_id,
            rpc_error,
            f"a message id is at most {MAX_UNIQUE_ID} characters, without NUL",
            protocol,
        )
    if message[0] in (2, 6):
        problem = payload_problem(message[3])
        if problem is not None:
            if message[0] == 6:
                return None, None
            return None, call_error_frame(unique_id, *problem, protocol)
    return _MESSAGE_CLASSES[message[0]](*message[1:]), None


def payload_problem(payload: dict) -> tuple[str, str] | None:
    """(error code, description) if a payload holds what no OCPP field may: an integer
    beyond 32 bits, a number that is not finite, a NUL in a string (pure; iterative, so
    deep nesting costs no recursion)."""
    stack: list[object] = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT32[0] <= value <= INT32[1]:
                return "TypeConstraintViolation", f"{value} is not a 32-bit OCPP integer"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "TypeConstraintViolation", "numbers must be finite"
        elif isinstance(value, str) and "\x00" in value:
            return "PropertyConstraintViolation", "text may not contain NUL characters"
    return None


def error_for_exception(unique_id: str, error: OCPPError, protocol: str) -> str:
    cause = error.details.get("cause") if isinstance(error.details, dict) else None
    description = (str(cause) if cause else error.description).splitlines()[0]
    return call_error_frame(unique_id, error.code, description, protocol)


def oversize_frame_error(frame: str, limit: int, protocol: str) -> str:
    return call_error_frame(
        _readable_unique_id(frame[:200]),
        "FormatViolation",
        f"frame of {len(frame.encode())} bytes exceeds the {limit}-byte limit",
        protocol,
    )
