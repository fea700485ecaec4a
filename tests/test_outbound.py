"""The commands the CSMS sends, per OCPP version (sigecve/ocpp/outbound_v16.py,
outbound_v201.py and outbound_v21.py): the modules offer the same builders, every message they
build passes the `ocpp` package's schema of its version, and the payloads are the ones
chargers expect."""

from __future__ import annotations

import inspect

import pytest
from ocpp.messages import Call

from sigecve.ocpp import outbound_v16, outbound_v21, outbound_v201
from sigecve.ocpp.outbound import OutboundCall, messages_for
from sigecve.ocpp.schemas import validate_payload
from sigecve.services.errors import InvalidInput

EXPIRY = "2026-12-07T18:00:00+00:00"
PROFILE_16 = {
    "chargingProfileId": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
    },
}
PROFILE_201 = {
    "id": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {
            "id": 1,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
        }
    ],
}


def builders(messages) -> dict[str, object]:
    return {
        name: f
        for name, f in inspect.getmembers(messages, inspect.isfunction)
        if f.__module__ == messages.__name__ and not name.startswith("_")
    }


def test_both_versions_offer_the_same_builders_with_the_same_parameters():
    v16, v201 = builders(outbound_v16), builders(outbound_v201)
    v16.pop("variable_ref", None), v201.pop("variable_ref", None)  # 2.0.1's own helper
    assert v16.keys() == v201.keys()
    for name in v16:
        assert inspect.signature(v16[name]).parameters.keys() == (
            inspect.signature(v201[name]).parameters.keys()
        ), name
    assert messages_for("ocpp1.6") is outbound_v16
    assert messages_for("ocpp2.0.1") is outbound_v201
    assert messages_for("ocpp2.1") is outbound_v21
    with pytest.raises(ValueError, match=r"ocpp1\.5"):
        messages_for("ocpp1.5")
    # 2.1 sends what 2.0.1 sends: the same builders, each checked below against 2.1's schemas.
    assert {n: getattr(outbound_v21, n) for n in v201} == v201


def every_call(messages, profile: dict) -> list[OutboundCall]:
    return [
        messages.reset(True),
        messages.reset(False),
        messages.unlock(2),
        messages.remote_start("TAG1", None, 42),
        messages.remote_start("TAG1", 2, 42),
        messages.remote_stop(17),
        messages.change_availability(0, False),
        messages.change_availability(2, True),
        messages.trigger("StatusNotification", None),
        messages.trigger("StatusNotification", 1),
        messages.clear_cache(),
        messages.get_configuration(["OCPPCommCtrlr.HeartbeatInterval"]),
        messages.change_configuration("OCPPCommCtrlr.HeartbeatInterval", "300"),
        messages.set_password("a-long-secret-of-16"),
        messages.update_firmware("https://fw.example/v2.bin", EXPIRY, 3, 60, 9),
        messages.update_firmware("https://fw.example/v2.bin", EXPIRY, None, None, 9),
        messages.reserve(5, 0, EXPIRY, "TAG1"),
        messages.reserve(5, 2, EXPIRY, "TAG1"),
        messages.cancel_reservation(5),
        messages.set_charging_profile(1, profile),
        messages.clear_charging_profile(None),
        messages.clear_charging_profile(7),
    ]


@pytest.mark.parametrize(
    ("messages", "version", "profile"),
    [
        (outbound_v16, "1.6", PROFILE_16),
        (outbound_v201, "2.0.1", PROFILE_201),
        (outbound_v21, "2.1", PROFILE_201),
    ],
)
async def test_every_built_message_passes_its_versions_schema(messages, version, profile):
    for built in every_call(messages, profile):
        await validate_payload(Call("1", built.action, built.payload), version)


def test_the_payloads_are_the_ones_each_version_expects():
    assert outbound_v16.reset(True) == ("Reset", {"type": "Soft"})
    assert outbound_v201.reset(False) == ("Reset", {"type": "Immediate"})
    assert outbound_v16.remote_start("TAG1", 2, 42) == (
        "RemoteStartTransaction",
        {"idTag": "TAG1", "connectorId": 2},
    )
    assert outbound_v201.remote_start("TAG1", None, 42) == (
        "RequestStartTransaction",
        {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 42},
    )
    assert outbound_v201.remote_stop(17).payload == {"transactionId": "17"}
    assert outbound_v16.change_availability(0, False).payload == {
        "connectorId": 0,
        "type": "Inoperative",
    }
    assert outbound_v201.change_availability(0, True).payload == {"operationalStatus": "Operative"}
    assert outbound_v16.get_configuration([]) == ("GetConfiguration", {})
    assert outbound_v201.change_configuration("SecurityCtrlr.BasicAuthPassword", "x") == (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"},
                    "attributeValue": "x",
                }
            ]
        },
    )
    assert outbound_v201.update_firmware("u", EXPIRY, None, None, 9).payload == {
        "requestId": 9,
        "firmware": {"location": "u", "retrieveDateTime": EXPIRY},
    }
    assert outbound_v201.reserve(5, 0, EXPIRY, "T").payload == {
        "id": 5,
        "expiryDateTime": EXPIRY,
        "idToken": {"idToken": "T", "type": "ISO14443"},
    }
    # The operator's profile goes out as given: the package's key renaming never touches it.
    odd = {**PROFILE_201, "customData": {"vendorId": "x", "soc_hint": 1}}
    assert outbound_v201.set_charging_profile(1, odd).payload["chargingProfile"] == odd


def test_what_a_version_cannot_carry_is_refused_naming_the_field():
    with pytest.raises(InvalidInput, match=r"id_tag: OCPP 1\.6 chargers take at most 20"):
        outbound_v16.remote_start("T" * 21, None, 1)
    with pytest.raises(InvalidInput, match="keys: name the variables"):
        outbound_v201.get_configuration([])
    with pytest.raises(InvalidInput, match=r"Component\.Variable"):
        outbound_v201.change_configuration("HeartbeatInterval", "300")


def test_replies_are_read_in_each_versions_shape():
    assert outbound_v16.configuration_items(
        {"configurationKey": [{"key": "A", "value": "1", "readonly": True}], "unknownKey": ["B"]}
    ) == [
        {"key": "A", "value": "1", "readonly": True},
        {"key": "B", "status": "UnknownKey"},
    ]
    reply = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    }
    assert outbound_v201.configuration_items(reply) == [
        {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "300", "status": "Accepted"}
    ]
    assert outbound_v201.configuration_status({"setVariableResult": [{"attributeStatus": "x"}]})
    assert outbound_v16.configuration_status({"status": "Accepted"}) is None
