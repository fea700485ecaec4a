"""The stored device model: reports in parts (any order, retried, never finished), values
checked against the charger's own characteristics before anything is sent, the store kept
from the charger's answers, credentials never kept, and queries across the fleet. End to end
against the simulated stations, whose device model is written from the spec."""

from __future__ import annotations

import pytest

from sigecve.device_model import (
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    parse_condition,
    report_complete,
    value_problem,
    variables_from_report,
    without_secrets,
)
from sigecve.services import device_model
from sigecve.services.errors import InvalidInput
from tests import test_ocpp_sessions
from tests.conftest import eventually, unique_id
from tests.test_ocpp_sessions import connect
from tests.test_rest_api import as_role, assert_error, charger, register

AT = "2026-12-07T10:00:00Z"
sessions = test_ocpp_sessions.sessions  # the fixture: charge point sessions without Ray


def entry(component, variable, value, data_type="integer", mutability="ReadWrite", **extra):
    chars = {"dataType": data_type, "supportsMonitoring": False, **extra}
    return {
        "component": {"name": component},
        "variable": {"name": variable},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variableCharacteristics": chars,
    }


def part(request_id, seq_no, tbc, *entries):
    return {
        "requestId": request_id,
        "generatedAt": AT,
        "seqNo": seq_no,
        "tbc": tbc,
        "reportData": list(entries),
    }


def variable(data_type, mutability="ReadWrite", **chars) -> Variable:
    return Variable(
        component="C",
        variable="V",
        characteristics=VariableCharacteristics(data_type=data_type, **chars),
        attributes=[VariableAttribute(value="1", mutability=mutability)],
    )


def test_a_value_is_checked_against_what_the_charger_said_of_the_variable():
    assert value_problem(variable("integer", "ReadOnly"), "5") == "C.V is read-only on this charger"
    ints = variable("integer", min_limit=1, max_limit=86400)
    assert value_problem(ints, "300") is None
    assert "at least 1" in value_problem(ints, "0")
    assert "at most 86400" in value_problem(ints, "86401")
    assert "takes an integer" in value_problem(ints, "3.5")
    assert "finite" in value_problem(variable("decimal"), "nan")
    assert value_problem(variable("boolean"), "true") is None
    assert "true or false" in value_problem(variable("boolean"), "True")
    assert "at most 4 characters" in value_problem(variable("string", max_limit=4), "abcde")
    assert "ISO 8601" in value_problem(variable("dateTime"), "yesterday")
    members = variable("MemberList", values_list="EVConnected,Authorized,PowerPathClosed")
    assert value_problem(members, "EVConnected,Authorized") is None
    assert "not Parked" in value_problem(members, "Authorized,Parked")
    assert "each member once" in value_problem(members, "Authorized,Authorized")
    options = variable("OptionList", values_list="A,B")
    assert value_problem(options, "A") is None and "one of A, B" in value_problem(options, "A,B")
    # Nothing said of it: the charger decides.
    assert value_problem(Variable(component="C", variable="V"), "anything") is None


def test_a_report_is_whole_once_its_last_part_and_all_before_it_came():
    assert not report_complete([], None)
    assert not report_complete([0, 1], None)  # the last part has not come
    assert not report_complete([2, 0], 2)  # part 1 is missing
    assert report_complete([2, 0, 1, 1], 2)  # any order, a retry counted once
    assert report_complete([0], 0)
    assert not report_complete([0], 2**31 - 1)  # counted, not enumerated
    assert not report_complete([-1, 0], -1)


def test_conditions_and_reports_are_read_as_chargers_write_them():
    assert parse_condition("TxCtrlr.TxStartPoint=Authorized") == (
        "TxCtrlr",
        "TxStartPoint",
        "Authorized",
    )
    assert parse_condition("HeartbeatInterval=300") == ("", "HeartbeatInterval", "300")
    assert parse_condition("A.B=") == ("A", "B", "")  # an empty value is a value
    for bad in ("NoEquals", "=3", "A.=3"):
        with pytest.raises(ValueError):
            parse_condition(bad)
    [v] = variables_from_report(
        [
            {
                "component": {"name": "EVSE", "evse": {"id": 2}},
                "variable": {"name": "Power", "instance": "Max"},
                "variableAttribute": [{"value": "22000"}, {"type": "MaxSet", "value": "11000"}],
            }
        ]
    )
    assert (v.key, v.evse_id, v.variable_instance, v.characteristics) == (
        "EVSE.Power",
        2,
        "Max",
        None,
    )
    assert [(a.type, a.value, a.mutability) for a in v.attributes] == [
        ("Actual", "22000", "ReadWrite"),  # the spec's defaults
        ("MaxSet", "11000", "ReadWrite"),
    ]


def test_credentials_are_never_kept():
    secret = Variable(
        component="SecurityCtrlr",
        variable="BasicAuthPassword",
        attributes=[VariableAttribute(value="s3cret", status="Accepted")],
    )
    write_only = Variable(
        component="X",
        variable="Y",
        attributes=[VariableAttribute(value="v", mutability="WriteOnly")],
    )
    plain = Variable(component="X", variable="Z", attributes=[VariableAttribute(value="v")])
    kept = without_secrets([secret, write_only, plain])
    assert [a.value for v in kept for a in v.attributes] == [None, None, "v"]


async def test_a_report_in_parts_out_of_order_and_retried_is_stored_whole(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    first = entry("OCPPCommCtrlr", "HeartbeatInterval", "300", minLimit=1, maxLimit=86400)
    second = entry(
        "TxCtrlr", "TxStartPoint", "PowerPathClosed", "MemberList",
        valuesList="EVConnected,Authorized,PowerPathClosed",
    )  # fmt: skip
    third = entry("ChargingStation", "Model", "DC-150", "string", "ReadOnly")
    # The last part first, then the first, then the first again (a lost reply): still
    # missing part 1, so not complete, but what came is already stored.
    await cp.call("NotifyReport", part(7, 2, False, third))
    await cp.call("NotifyReport", part(7, 0, True, first))
    await cp.call("NotifyReport", part(7, 0, True, first))
    model = await device_model.device_model_of(repos, cp.cp_id)
    assert [r.state for r in model.reports] == ["receiving"]
    assert model.reports[0].parts_received == 2
    assert {v.key for v in model.variables} == {
        "OCPPCommCtrlr.HeartbeatInterval",
        "ChargingStation.Model",
    }
    await cp.call("NotifyReport", part(7, 1, True, second))
    model = await device_model.device_model_of(repos, cp.cp_id)
    assert [(r.request_id, r.state, r.parts_received) for r in model.reports] == [
        (7, "complete", 3)
    ]
    by_key = {v.key: v for v in model.variables}
    tx = by_key["TxCtrlr.TxStartPoint"]
    assert (
        tx.characteristics.data_type == "MemberList" and tx.attribute().value == "PowerPathClosed"
    )
    assert by_key["ChargingStation.Model"].attribute().mutability == "ReadOnly"
    # Checked against it before sending: each refusal names why, nothing is sent.
    for key, value, why in (
        ("ChargingStation.Model", "X", "read-only"),
        ("OCPPCommCtrlr.HeartbeatInterval", "0", "at least 1"),
        ("TxCtrlr.TxStartPoint", "Parked", "one of"),
    ):
        with pytest.raises(InvalidInput, match=why):
            await device_model.check_change(repos, cp.cp_id, key, value)
    await device_model.check_change(repos, cp.cp_id, "TxCtrlr.TxStartPoint", "Authorized")
    await device_model.check_change(repos, cp.cp_id, "Unreported.Variable", "anything")


async def test_a_report_whose_last_part_never_comes_is_shown_incomplete(sessions, repos):
    cp = await connect(sessions, repos, protocol="ocpp2.1")
    await cp.call("NotifyReport", part(9, 0, True, entry("A", "B", "1")))
    async with repos.pool.connection() as conn:  # as if the part came ten minutes ago
        await conn.execute(
            "UPDATE device_model_reports SET last_part_at = now() - interval '10 minutes' "
            "WHERE charge_point_id = %s",
            (cp.cp_id,),
        )
    model = await device_model.device_model_of(repos, cp.cp_id)
    assert [(r.state, r.parts_received) for r in model.reports] == [("incomplete", 1)]
    assert [v.key for v in model.variables] == ["A.B"]  # what came is kept


async def test_a_report_naming_an_unknown_component_is_stored_as_the_charger_has_it(
    sessions, repos
):
    """Vendors add components of their own: a report names what the station has."""
    cp = await connect(sessions, repos, protocol="ocpp2.0.1")
    reply = await cp.call(
        "NotifyReport", part(3, 0, False, entry("AcmeCoolingCtrlr", "FanSpeed", "3"))
    )
    assert reply == {}
    [v] = (await device_model.device_model_of(repos, cp.cp_id)).variables
    assert (v.key, v.attribute().value) == ("AcmeCoolingCtrlr.FanSpeed", "3")


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_an_operator_reads_checks_and_queries_the_device_model(system, tokens, protocol):
    cp_id, other = unique_id("DM"), unique_id("DM")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        await register(op, other)
        async with charger(system, cp_id, protocol) as station, charger(system, other, protocol):
            r = await op.post(f"/charge-points/{cp_id}/variables/report")
            assert r.status_code == 200 and r.json()["result"]["status"] == "Accepted", r.text
            request_id = r.json()["request_id"]

            async def reported():
                model = (await op.get(f"/charge-points/{cp_id}/variables")).json()
                states = {x["request_id"]: x["state"] for x in model["reports"]}
                return model if states.get(request_id) == "complete" else None

            model = await eventually(reported, within=20, message="the report did not complete")
            parts = len(station.device_model.report_parts())
            assert parts > 1 and model["reports"][0]["parts_received"] == parts
            by_key = {v["component"] + "." + v["variable"]: v for v in model["variables"]}
            assert len(model["variables"]) == len(station.device_model.variables)
            assert by_key["ChargingStation.Model"]["attributes"][0]["mutability"] == "ReadOnly"
            evses = {v["evse_id"] for v in model["variables"] if v["component"] == "EVSE"}
            assert evses == {1, 2}  # a variable per EVSE
            # A write-only credential is reported without its value and never stored with one.
            assert by_key["SecurityCtrlr.BasicAuthPassword"]["attributes"][0]["value"] is None

            # Refused before anything is sent, with the charger's own reason.
            for key, value, why in (
                ("ChargingStation.Model", "Other", "read-only"),
                ("OCPPCommCtrlr.HeartbeatInterval", "0", "at least 1"),
                ("TxCtrlr.TxStartPoint", "Parked", "one of"),
                ("AuthCtrlr.AuthorizeRemoteStart", "yes", "true or false"),
            ):
                r = await op.put(
                    f"/charge-points/{cp_id}/configuration", json={"key": key, "value": value}
                )
                assert_error(r, 422, "invalid_input", why)
            assert station.device_model.find("TxCtrlr", "TxStartPoint").value == "PowerPathClosed"

            # Taken: the store follows the charger's answer.
            r = await op.put(
                f"/charge-points/{cp_id}/configuration",
                json={"key": "TxCtrlr.TxStartPoint", "value": "Authorized"},
            )
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            # The other station is asked nothing: only cp_id has TxStartPoint = Authorized.
            r = await op.post(f"/charge-points/{other}/variables/report")
            await eventually(
                lambda: _complete(op, other, r.json()["request_id"]),
                within=20,
                message="the second report did not complete",
            )
            r = await op.get(
                "/variables",
                params={
                    "where": [
                        "TxCtrlr.TxStartPoint=Authorized",
                        "ChargingStation.Model=" + station.model,
                    ]
                },
            )
            assert r.status_code == 200, r.text
            found = [m for m in r.json()["items"] if m["charge_point_id"] in (cp_id, other)]
            assert [(m["charge_point_id"], m["values"]["TxCtrlr.TxStartPoint"]) for m in found] == [
                (cp_id, "Authorized")
            ]
            r = await op.get(
                "/variables", params={"where": ["ChargingStation.Model=" + station.model]}
            )
            ids = {m["charge_point_id"] for m in r.json()["items"]}
            assert {cp_id, other} <= ids

            # Read now: the store takes the charger's value too.
            station.device_model.find("OCPPCommCtrlr", "HeartbeatInterval").value = "77"
            r = await op.get(
                f"/charge-points/{cp_id}/configuration",
                params={"keys": ["OCPPCommCtrlr.HeartbeatInterval"]},
            )
            assert r.json()["items"][0]["value"] == "77"
            model = (await op.get(f"/charge-points/{cp_id}/variables")).json()
            [beat] = [v for v in model["variables"] if v["variable"] == "HeartbeatInterval"]
            assert (beat["attributes"][0]["value"], beat["attributes"][0]["status"]) == (
                "77",
                "Accepted",
            )
            assert beat["characteristics"]["max_limit"] == 86400  # the report's, kept

        for bad in (["NoEquals"], ["=3"]):
            r = await op.get("/variables", params={"where": bad})
            assert_error(r, 422, "invalid_input", "Component.Variable=Value")
        r = await op.get("/variables")
        assert_error(r, 422, "invalid_input", "at least one condition")
        r = await op.get(f"/charge-points/{unique_id('NOPE')}/variables")
        assert r.status_code == 404


async def _complete(api, cp_id: str, request_id: int) -> bool:
    model = (await api.get(f"/charge-points/{cp_id}/variables")).json()
    return any(r["request_id"] == request_id and r["state"] == "complete" for r in model["reports"])


async def test_a_16_chargers_configuration_is_its_device_model(system, tokens):
    cp_id = unique_id("DM16")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, "ocpp1.6") as station:
            r = await op.post(f"/charge-points/{cp_id}/variables/report")
            assert r.status_code == 200, r.text
            model = (await op.get(f"/charge-points/{cp_id}/variables")).json()
            assert [x["state"] for x in model["reports"]] == ["complete"]
            by_key = {v["variable"]: v for v in model["variables"]}
            assert set(by_key) == set(station.configuration)
            assert {v["component"] for v in model["variables"]} == {""}
            assert by_key["NumberOfConnectors"]["attributes"][0]["mutability"] == "ReadOnly"
            r = await op.put(
                f"/charge-points/{cp_id}/configuration",
                json={"key": "NumberOfConnectors", "value": "9"},
            )
            assert_error(r, 422, "invalid_input", "read-only")
            r = await op.put(
                f"/charge-points/{cp_id}/configuration",
                json={"key": "HeartbeatInterval", "value": "120"},
            )
            assert r.json()["status"] == "Accepted"
            r = await op.get("/variables", params={"where": ["HeartbeatInterval=120"]})
            assert cp_id in {m["charge_point_id"] for m in r.json()["items"]}
            # The password pushed as a configuration key is not kept in the device model.
            r = await op.put(
                f"/charge-points/{cp_id}/configuration",
                json={"key": "AuthorizationKey", "value": "a-secret-of-20-chars"},
            )
            assert r.json()["status"] == "Accepted"
            model = (await op.get(f"/charge-points/{cp_id}/variables")).json()
            [key] = [v for v in model["variables"] if v["variable"] == "AuthorizationKey"]
            assert key["attributes"][0]["value"] is None
