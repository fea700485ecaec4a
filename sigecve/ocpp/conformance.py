"""The OCPP conformance report (docs/ocpp-conformance.md), built from the handlers themselves.

`python -m sigecve.ocpp.conformance > docs/ocpp-conformance.md` rewrites it; a test fails when
the committed report and the code disagree.
"""

from __future__ import annotations

from ocpp.routing import create_route_map

from sigecve.ocpp import v16, v201

# What happens to a charger-initiated message beyond validation and the message log.
_HANDLING = {
    "Authorize": "id tag checked against `id_tags` (status, expiry)",
    "BootNotification": "vendor, model, firmware, boot payload on the charge point; Accepted",
    "Heartbeat": "last seen time, connectivity event",
    "StatusNotification": "connector status (newest wins) and `status_events`",
    "StartTransaction": "`transactions` row, idempotent on retry; tag status",
    "StopTransaction": "closes the transaction with its transactionData, idempotent",
    "MeterValues": "`meter_values`, a resent reading stored once, units in Wh/W",
    "TransactionEvent": "Started/Updated/Ended into one `transactions` row, `meter_values`; "
    "seqNo makes retries no-ops; a lost Started still makes the session",
    "DataTransfer": "stored in `charge_point_events`; replies UnknownVendorId",
    "SignCertificate": "stored; replies Rejected (no certificate authority configured)",
    "Get15118EVCertificate": "stored; replies Failed (no ISO 15118 backend configured)",
    "GetCertificateStatus": "stored; replies Failed (no OCSP backend configured)",
    "NotifyEVChargingNeeds": "stored in `charge_point_events`; Accepted",
    "NotifyEVChargingSchedule": "stored in `charge_point_events`; Accepted",
}
_STORED = "stored as it came in `charge_point_events`"

CHARGER_TEST = "tests/test_ocpp_conformance.py::test_charger_initiated_message[{v}-{a}]"
CSMS_TEST = "tests/test_ocpp_conformance.py::test_csms_initiated_command[{v}-{a}]"


def report() -> str:
    lines = [
        "# OCPP conformance",
        "",
        "Every OCPP 1.6J (Core, Firmware Management, Local Auth List, Reservation, Smart",
        "Charging, Remote Trigger and the security extension) and OCPP 2.0.1 message, with how",
        "SIGEC-VE handles it and the test that drives it through the real Serve ingress with a",
        "real WebSocket client. Generated from the code by",
        "`python -m sigecve.ocpp.conformance`; `tests/test_conformance_report.py` fails when",
        "this file and the code disagree.",
        "",
        "Every charger-initiated message is validated against its schema (a CALLERROR with the",
        "spec's code otherwise), logged in `ocpp_messages`, and answered after its data is",
        "committed. Every CSMS-initiated command goes through `POST",
        "/api/v1/charge-points/{id}/commands`: validated against the request schema (422",
        "otherwise), sent, and the charger's reply (or a 504 timeout) returned.",
        "",
    ]
    for version, module, session in (
        ("1.6", v16, v16.ChargePointSession16),
        ("2.0.1", v201, v201.ChargePointSession201),
    ):
        routes = create_route_map(session.__new__(session))
        lines += [
            f"## OCPP {version}",
            "",
            "| direction | message | status | handling | test |",
            "| --- | --- | --- | --- | --- |",
        ]
        for action in sorted(module.CHARGER_INITIATED_ACTIONS):
            status = "handled, tested" if action in routes else "MISSING"
            handling = _HANDLING.get(action, _STORED)
            test = CHARGER_TEST.format(v=version, a=action)
            lines.append(f"| charger → CSMS | {action} | {status} | {handling} | `{test}` |")
        for action in sorted(module.CSMS_INITIATED_ACTIONS):
            test = CSMS_TEST.format(v=version, a=action)
            lines.append(
                f"| CSMS → charger | {action} | handled, tested | sent as given, reply returned "
                f"| `{test}` |"
            )
        lines.append("")
    lines += [
        "## Malformed frames",
        "",
        "Answered with a CALLERROR and the connection stays up (1.6 / 2.0.1 codes):",
        "",
        "| frame | 1.6 | 2.0.1 |",
        "| --- | --- | --- |",
        "| not JSON | FormationViolation | RpcFrameworkError |",
        "| not an array, missing elements | ProtocolError | RpcFrameworkError |",
        "| unknown message type id | ProtocolError | MessageTypeNotSupported |",
        "| unknown action | NotImplemented | NotImplemented |",
        "| action a charger does not send | NotSupported | NotSupported |",
        "| payload violating the schema | FormationViolation, TypeConstraintViolation, ... "
        "| FormatViolation, TypeConstraintViolation, ... |",
        "| binary frame | ProtocolError | RpcFrameworkError |",
        "| larger than `SIGECVE_MAX_FRAME_BYTES` (256 KiB) | FormationViolation "
        "| FormatViolation |",
        "",
        "Tests: `tests/test_ocpp_conformance.py::test_malformed_frames_over_the_wire` (through",
        "the ingress) and `tests/test_ocpp_sessions.py::"
        "test_malformed_frames_get_the_specs_call_error_and_the_session_goes_on`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(), end="")
