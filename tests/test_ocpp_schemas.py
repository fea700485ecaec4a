"""The compiled schema check (sigecve/ocpp/schemas.py) against the `ocpp` package's own: the
same verdict and the same kind of error for every payload of every action of every version,
valid or broken, in both directions."""

from __future__ import annotations

import json
import random

import ocpp.charge_point
import ocpp.messages
import pytest
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult

from sigecve.ocpp import schemas, v16, v21, v201
from sigecve.ocpp.framing import Send, error_for_exception
from tests.ocpp_samples import random_sample, sample
from tests.test_ocpp_fuzz import _mutations

EXAMPLES = 8


async def _verdict(check, message: Call | CallResult, version: str) -> str | None:
    """None if `check` accepts the message, else the name of the error it raises."""
    try:
        await check(message, version)
    except OCPPError as e:
        return type(e).__name__
    return None


def _message(kind: str, action: str, payload: dict) -> Call | CallResult:
    if kind == "send":
        return Send("1", action, payload)  # type: ignore[return-value]
    if kind == "request":
        return Call("1", action, payload)
    return CallResult("1", payload, action=action)


def _payloads(version: str, action: str, kind: str, rng: random.Random) -> list[dict]:
    valid = [sample(version, action, kind)]
    valid += [random_sample(version, action, kind, rng) for _ in range(EXAMPLES)]
    return valid + [broken for payload in valid[:3] for broken in _broken(payload, rng)]


def _broken(payload: dict, rng: random.Random) -> list[dict]:
    """The fuzz test's mutations, and a text field too long or outside its enum."""
    texts = sorted(k for k, v in payload.items() if isinstance(v, str))
    if not texts:
        return _mutations(payload, rng)
    key = rng.choice(texts)
    return [*_mutations(payload, rng), {**payload, key: "x" * 1001}, {**payload, key: "Nope"}]


@pytest.mark.parametrize(
    ("version", "session_class"),
    [
        ("1.6", v16.ChargePointSession16),
        ("2.0.1", v201.ChargePointSession201),
        ("2.1", v21.ChargePointSession21),
    ],
)
async def test_the_compiled_check_gives_the_packages_verdict_on_every_action(
    version, session_class
):
    rng = random.Random(f"schemas-{version}")
    compared = refused = 0
    for action in sorted(session_class.all_actions):
        kinds = ("send",) if action in session_class.send_actions else ("request", "response")
        for kind in kinds:
            for payload in _payloads(version, action, kind, rng):
                ours = await _verdict(
                    schemas.validate_payload, _message(kind, action, payload), version
                )
                if kind == "send":
                    # The package cannot check a SEND: its schema's verdict, without the kind.
                    validator = ocpp.messages.get_validator(6, action, version)
                    theirs = None if validator.is_valid(payload) else "refused"
                    ours = ours and "refused"
                else:
                    theirs = await _verdict(
                        ocpp.messages.validate_payload, _message(kind, action, payload), version
                    )
                assert ours == theirs, (action, kind, payload)
                compared += 1
                refused += theirs is not None
    # Both verdicts were seen plenty: the comparison is not of everything accepted.
    assert compared > 1000 and 0.1 < refused / compared < 0.9


async def test_charging_limits_in_tenths_are_accepted_in_16():
    """1.6 schedules ask for multiples of 0.1, which 21.4 is but a float check says it is not."""
    profile = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
            },
        },
    }
    await schemas.validate_payload(Call("1", "SetChargingProfile", profile), "1.6")


def test_the_package_checks_payloads_with_the_compiled_schemas():
    assert ocpp.charge_point.validate_payload is schemas.validate_payload


@pytest.mark.parametrize(
    ("version", "action", "payload", "named"),
    [
        (
            "1.6",
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": "2026-12-07T00:00:00Z",
                        "sampledValue": [{"value": "1" * 200}, {"value": "2", "unit": "Parsec"}],
                    }
                ],
            },
            "MeterValues.meterValue[0].sampledValue[1].unit must be one of",  # (got 'Parsec')
        ),
        ("1.6", "Heartbeat", {"extra": "x" * 500}, "Heartbeat must not contain {'extra'}"),
        (
            "2.0.1",
            "StatusNotification",
            {"timestamp": "2026-12-07T00:00:00Z", "connectorStatus": "Available", "evseId": 1},
            "StatusNotification must contain ['connectorId']",
        ),
    ],
)
async def test_a_callerrors_description_names_the_field_that_failed_first(
    version, action, payload, named
):
    with pytest.raises(OCPPError) as raised:
        await schemas.validate_payload(Call("1", action, payload), version)
    protocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    description = json.loads(error_for_exception("1", raised.value, protocol))[3]
    assert description.startswith(named), description
    assert "1" * 50 not in description and "x" * 50 not in description  # nothing long echoed
