"""The pure decisions of the core, without a database or Ray."""

from datetime import UTC, datetime, timedelta

import pytest

from serve_deployments.ocpp_gateway import choose_protocol
from sigecve import security
from sigecve.domain import IdTag, IdTagStatus
from sigecve.ocpp.message_log import describe_frame
from sigecve.ocpp.meter_values import samples_from_meter_values
from sigecve.placement import host_index
from sigecve.security import (
    VerifiedPasswords,
    hash_api_token,
    hash_password,
    parse_basic_auth,
    verify_password,
)
from sigecve.services.charge_points import decide_admission
from sigecve.services.id_tags import authorization_status
from sigecve.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_host_index_is_stable_and_spreads_charge_points():
    assert host_index("CP-1", 4) == host_index("CP-1", 4)
    counts = [0] * 4
    for i in range(4000):
        counts[host_index(f"CP-{i}", 4)] += 1
    assert all(800 < c < 1200 for c in counts), counts


def test_passwords_are_salted_and_verified():
    stored = hash_password("s3cret-password")
    assert "s3cret" not in stored
    assert stored != hash_password("s3cret-password")
    assert verify_password("s3cret-password", stored)
    assert not verify_password("wrong-password", stored)
    assert not verify_password("s3cret-password", "garbage")


def test_api_tokens_are_stored_as_digests():
    assert hash_api_token("abc") == hash_api_token("abc") != "abc"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic Q1AtMTpwYXNzd29yZA==", ("CP-1", "password")),
        ("basic Q1AtMTpwYXNzd29yZA==", ("CP-1", "password")),
        ("Bearer abc", None),
        ("Basic !!!", None),
        ("Basic Q1AtMQ==", None),  # "CP-1" without a colon
        (None, None),
    ],
)
def test_parse_basic_auth(header, expected):
    assert parse_basic_auth(header) == expected


def test_admission_of_unknown_charge_points_depends_on_auto_register():
    assert not decide_admission(None, "pw", auto_register=False).accepted
    decision = decide_admission(None, "pw", auto_register=True)
    assert decision.accepted and decision.register


def test_admission_checks_the_password():
    row = {"password_hash": hash_password("right-password")}
    assert decide_admission(row, "right-password", auto_register=False).accepted
    assert not decide_admission(row, "wrong-password", auto_register=False).accepted
    assert not decide_admission(row, None, auto_register=False).accepted
    assert decide_admission({"password_hash": None}, None, auto_register=False).accepted


def test_a_verified_password_is_checked_again_without_scrypt_until_the_stored_hash_changes(
    monkeypatch,
):
    key = "0123456789abcdef-ocpp-key"
    stored = hash_password(key)
    scrypt_checks = []
    real_verify = security.verify_password

    def counting_verify(password: str, stored_hash: str) -> bool:
        scrypt_checks.append(password)
        return real_verify(password, stored_hash)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    verified = VerifiedPasswords()
    assert not verified.verify("CP-1", "wrong-key", stored)  # a failure is not remembered
    assert not verified.known("CP-1", stored)
    assert verified.verify("CP-1", key, stored)
    assert verified.known("CP-1", stored) and not verified.known("CP-2", stored)
    assert len(scrypt_checks) == 2
    assert verified.verify("CP-1", key, stored)  # a reconnect
    assert not verified.verify("CP-1", "wrong-key", stored)
    assert len(scrypt_checks) == 2
    new_stored = hash_password("a-new-key-for-this-charger")
    assert not verified.verify("CP-1", key, new_stored)  # the password was changed
    assert verified.verify("CP-1", "a-new-key-for-this-charger", new_stored)
    assert len(scrypt_checks) == 4


def test_authorization_status():
    assert authorization_status(None, NOW) is IdTagStatus.invalid
    assert authorization_status(IdTag(id_tag="A"), NOW) is IdTagStatus.accepted
    blocked = IdTag(id_tag="B", status=IdTagStatus.blocked)
    assert authorization_status(blocked, NOW) is IdTagStatus.blocked
    old = IdTag(id_tag="C", expiry_date=NOW - timedelta(days=1))
    assert authorization_status(old, NOW) is IdTagStatus.expired
    valid = IdTag(id_tag="D", expiry_date=NOW + timedelta(days=1))
    assert authorization_status(valid, NOW) is IdTagStatus.accepted


def test_meter_values_are_normalised_to_base_units():
    samples = samples_from_meter_values(
        1,
        7,
        [
            {
                "timestamp": "2026-11-25T10:00:00Z",
                "sampled_value": [
                    {"value": "12.5", "unit": "kWh"},
                    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1"},
                    {"value": "not-a-number"},
                    {"value": "AB12", "format": "SignedData"},
                ],
            }
        ],
    )
    assert [(s.measurand, s.value, s.unit) for s in samples] == [
        ("Energy.Active.Import.Register", 12500.0, "Wh"),
        ("Power.Active.Import", 7400.0, "W"),
        ("Voltage", 230.0, "V"),
    ]
    assert samples[2].phase == "L1"
    assert all(s.transaction_id == 7 and s.connector_id == 1 for s in samples)
    assert samples[0].timestamp == datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_describe_frame():
    assert describe_frame('[2,"id-1","Heartbeat",{}]') == (2, "id-1", "Heartbeat")
    assert describe_frame('[3,"id-1",{}]') == (3, "id-1", None)
    assert describe_frame("not json") == (None, None, None)
    assert describe_frame("{}") == (None, None, None)


def test_choose_protocol_keeps_the_chargers_preference():
    assert choose_protocol(["ocpp2.0.1", "ocpp1.6"]) == "ocpp2.0.1"
    assert choose_protocol(["ocpp1.6", "ocpp2.0.1"]) == "ocpp1.6"
    assert choose_protocol(["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]) == "ocpp2.1"
    assert choose_protocol(["ocpp1.5"]) is None
    assert choose_protocol([]) is None


def test_settings_read_the_contract_names(monkeypatch):
    monkeypatch.setenv("SIGECVE_PORT", "8123")
    monkeypatch.setenv("SIGECVE_AUTO_REGISTER", "true")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@y/z")
    monkeypatch.setenv("DEMO_CPS", "3")
    s = Settings(_env_file=None)
    assert (s.port, s.auto_register, s.database_url, s.demo_cps) == (
        8123,
        True,
        "postgresql://x@y/z",
        3,
    )
    assert s.host == "127.0.0.1"


def test_settings_reject_bad_values(monkeypatch):
    monkeypatch.setenv("SIGECVE_PORT", "99999")
    with pytest.raises(ValueError, match="SIGECVE_PORT"):
        Settings(_env_file=None)


def test_the_newest_total_power_is_read_in_kw_whatever_unit_the_charger_used():
    from sigecve.ocpp.meter_values import last_active_power_kw, samples_from_meter_values

    samples = samples_from_meter_values(
        1,
        7,
        [
            {
                "timestamp": "2026-11-25T10:00:00Z",
                "sampled_value": [{"value": "3000", "measurand": "Power.Active.Import"}],
            },
            {
                "timestamp": "2026-11-25T10:01:00Z",
                "sampled_value": [
                    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "2.0", "measurand": "Power.Active.Import", "phase": "L1"},
                ],
            },
        ],
    )
    assert last_active_power_kw(samples) == pytest.approx(7.4)
    assert last_active_power_kw([]) is None


def test_frames_with_what_no_ocpp_field_may_hold_are_refused_with_the_versions_code():
    import json

    from sigecve.ocpp.framing import read_frame

    def code(frame: str, protocol: str = "ocpp1.6") -> str | None:
        _, error = read_frame(frame, protocol)
        return None if error is None else json.loads(error)[2]

    assert code('[2, "a", "Heartbeat", {}]') is None
    assert code('[2, "a", "MeterValues", {"connectorId": 2147483648}]') == "TypeConstraintViolation"
    assert code('[2, "a", "MeterValues", {"connectorId": -2147483648}]') is None
    assert code('[2, "a", "DataTransfer", {"data": [1e999]}]') == "TypeConstraintViolation"
    assert code('[2, "a", "Authorize", {"idTag": "x\\u0000"}]') == "PropertyConstraintViolation"
    assert code('[2, "' + "u" * 37 + '", "Heartbeat", {}]') == "ProtocolError"
    assert code('[2, "' + "u" * 37 + '", "Heartbeat", {}]', "ocpp2.0.1") == "RpcFrameworkError"
    deep = '[2, "a", "Heartbeat", ' + "[" * 100_000 + "]" * 100_000 + "]"
    assert code(deep) == "FormationViolation"
    assert code(deep, "ocpp2.0.1") == "RpcFrameworkError"


def test_21s_send_and_callresulterror_are_read_and_never_answered():
    import json

    from sigecve.ocpp.framing import CallResultError, Send, read_frame

    send = '[6, "s1", "NotifyPeriodicEventStream", {"id": 1}]'
    assert read_frame(send, "ocpp2.1") == (Send("s1", "NotifyPeriodicEventStream", {"id": 1}), None)
    resulterror = '[5, "r1", "FormatViolation", "bad", {}]'
    assert read_frame(resulterror, "ocpp2.1") == (
        CallResultError("r1", "FormatViolation", "bad", {}),
        None,
    )
    # Neither is answered even when it is broken: no error goes back for a SEND.
    for broken in ('[6, "s1"]', '[6, "s1", "X", {"n": 1e999}]', '[5, "r1"]', '[6, 7, "X", {}]'):
        assert read_frame(broken, "ocpp2.1") == (None, None), broken
    # Before 2.1 they are message types the version does not have.
    for protocol, code in (("ocpp1.6", "ProtocolError"), ("ocpp2.0.1", "MessageTypeNotSupported")):
        message, error = read_frame(send, protocol)
        assert message is None and json.loads(error)[:3] == [4, "s1", code]


def test_a_fleet_mixes_the_three_versions_evenly():
    from sigecve.simulator.fleet import protocols_for

    assert protocols_for(4, 0.0) == ["ocpp1.6"] * 4
    assert protocols_for(4, 0.25) == ["ocpp1.6", "ocpp1.6", "ocpp1.6", "ocpp2.0.1"]
    mixed = protocols_for(8, 0.25, 0.25)
    assert mixed.count("ocpp2.0.1") == mixed.count("ocpp2.1") == 2
    assert mixed[:2] == ["ocpp1.6", "ocpp2.0.1"] and "ocpp2.1" in mixed[2:4]  # spread, not runs
    assert protocols_for(3, 0.0, 1.0) == ["ocpp2.1"] * 3


def test_pacing_delays_past_the_burst_and_refuses_nothing():
    from sigecve.rate_limit import TokenBuckets

    buckets = TokenBuckets(rate_per_s=10, burst=3)
    assert [buckets.pace("cp", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [round(buckets.pace("cp", 0.0), 3) for _ in range(2)] == [0.1, 0.2]
    assert buckets.pace("other", 0.0) == 0.0  # one charger's flood is its own
    assert buckets.pace("cp", 10.0) == 0.0  # a quiet charger gets its burst back
    buckets.forget("cp")
