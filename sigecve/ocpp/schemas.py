"""OCPP payloads checked against the `ocpp` package's JSON schemas, compiled to Python code.

The package checks each payload with `jsonschema`, which interprets the schema on every call:
about 30 µs for a StatusNotification, a tenth of what a host actor spent on the whole message.
The same schema compiled by `fastjsonschema` takes under 2 µs (docs/scale.md). Same schemas
(read through the package), same errors (the package's mapping from the rule broken to the
CALLERROR code).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import fastjsonschema
import ocpp.messages
from ocpp.exceptions import (
    FormatViolationError,
    NotImplementedError,
    OCPPError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallResult

# 1.6 payloads whose schemas ask for multiples of 0.1: the package parses them with Decimal
# before checking, where a float check would refuse 21.4 (21.4 / 0.1 is not a whole number
# in binary). They are rare (charging profiles), and left to the package.
_DECIMAL_PAYLOADS_16 = frozenset(
    {
        (Call, "SetChargingProfile"),
        (Call, "RemoteStartTransaction"),
        (CallResult, "GetCompositeSchedule"),
    }
)


@functools.cache
def _compiled(message_type_id: int, action: str, ocpp_version: str) -> Callable[[dict], object]:
    try:
        schema = ocpp.messages.get_validator(message_type_id, action, ocpp_version).schema
    except (OSError, ValueError) as e:
        raise NotImplementedError(details={"cause": f"no schema for action {action}"}) from e
    # As the package's Draft 4 validator, whatever draft the file names (2.0.1 and 2.1 name
    # draft 6, where 1.0 is an integer; Draft 4 refuses it): formats are not checked,
    # defaults not filled in.
    draft4 = {**schema, "$schema": "http://json-schema.org/draft-04/schema#"}
    return fastjsonschema.compile(draft4, use_default=False, use_formats=False)


async def validate_payload(message: Call | CallResult, ocpp_version: str) -> None:
    """Raise the OCPPError the `ocpp` package would raise for `message`'s payload (a
    coroutine, as the package's, so that it can stand in for it)."""
    if ocpp_version == "1.6" and (type(message), message.action) in _DECIMAL_PAYLOADS_16:
        await ocpp.messages.validate_payload(message, ocpp_version)
        return
    validate = _compiled(message.message_type_id, message.action, ocpp_version)
    try:
        validate(message.payload)
    except fastjsonschema.JsonSchemaValueException as e:
        raise _call_error(e, message) from e


def schema_cause(e: fastjsonschema.JsonSchemaValueException, action: str) -> str:
    """The rule broken, field first ("StatusNotification.connectorId must be integer"): the
    payload is never echoed, or the 255-character description would be cut off before the
    field that failed (pure)."""
    if e.name.startswith("data") and e.message.startswith(e.name):
        cause = action + e.name[len("data") :] + e.message[len(e.name) :]
    else:
        cause = f"{action}: {e.message}"
    if isinstance(e.value, str | int | float | bool) or e.value is None:
        got = repr(e.value)  # a scalar, shortened: which value it was, not the payload
        cause += f" (got {got if len(got) <= 40 else got[:37] + '...'})"
    return cause


def _call_error(
    e: fastjsonschema.JsonSchemaValueException, message: Call | CallResult
) -> OCPPError:
    cause = schema_cause(e, message.action)
    if e.rule == "required":
        return ProtocolError(details={"cause": cause})
    details = {"cause": cause, "ocpp_message": message}
    if e.rule in ("type", "maxLength"):
        return TypeConstraintViolationError(details=details)
    return FormatViolationError(details=details)
