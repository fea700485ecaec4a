"""The OCPP conformance report (docs/ocpp-conformance.md), built from the handlers themselves.

`python -m sigecve.ocpp.conformance > docs/ocpp-conformance.md` rewrites it; a test fails when
the committed report and the code disagree.
"""

from __future__ import annotations

from ocpp.routing import create_route_map

from sigecve.ocpp import v16, v21, v201

# What happens to a charger-initiated message beyond validation and the message log.
_HANDLING = {
    "Authorize": "id tag checked against `id_tags` (status, expiry)",
    "BootNotification": "vendor, model, firmware, boot payload on the charge point; Accepted, "
    "or Pending / Rejected while it waits for approval (onboarding)",
    "Heartbeat": "last seen time, connectivity event",
    "StatusNotification": "connector status (newest wins) and `status_events`",
    "StartTransaction": "`transactions` row, idempotent on retry; tag status (Invalid on a "
    "connector reserved for another tag); its reservation marked Used; a transaction left "
    "open on the connector closed (SupersededByNewTransaction)",
    "StopTransaction": "closes the transaction with its transactionData (signed readings "
    "kept), idempotent; an id that is a 2.x session's never reaches it",
    "MeterValues": "`meter_values`, a resent reading stored once, units in Wh/W; signed "
    "readings (SignedData, signedMeterValue) in `signed_meter_values` with their transaction",
    "TransactionEvent": "Started/Updated/Ended into one `transactions` row, `meter_values`; "
    "seqNo makes retries no-ops; a lost Started still makes the session; reservations and "
    "a transaction left open on the EVSE as for 1.6 StartTransaction",
    "NotifyDisplayMessages": "kept; what the station shows into `display_messages` (Reported)",
    "ReservationStatusUpdate": "kept; the reservation Expired or Removed as the station says",
    "DataTransfer": "stored in `charge_point_events`; replies UnknownVendorId",
    "SignCertificate": "stored; replies Rejected (no certificate authority configured)",
    "Get15118EVCertificate": "stored; replies Failed (no ISO 15118 backend configured)",
    "GetCertificateStatus": "stored; replies Failed (no OCSP backend configured)",
    "NotifyEVChargingNeeds": "stored in `charge_point_events`; Accepted",
    "NotifyEvent": "kept in `charge_point_events`; a Connector/EVSE `AvailabilityState` is "
    "its status, a `Problem` its error code (`techCode`; NoError when cleared) in "
    "`connectors` and `status_events`, as 1.6 StatusNotification; other components' "
    "Alerting events (severity 0-5, or none known) raise an alert in `alerts` (one open per "
    "component and variable), cleared when the station reports it cleared",
    "NotifyMonitoringReport": "its monitors into `variable_monitors`; kept as it came in "
    "`charge_point_events`",
    "NotifyReport": "its variables into the device model (`device_model_variables`, "
    "`device_model_attributes`), parts in any order, completeness per requestId; kept as it "
    "came in `charge_point_events`",
    "NotifyEVChargingSchedule": "stored in `charge_point_events`; Accepted",
    "OpenPeriodicEventStream": "stored in `charge_point_events`; Accepted",
    "NotifyPeriodicEventStream": "a SEND: stored in `charge_point_events`, never answered "
    "(an invalid one is dropped and logged, as the spec has it)",
    "GetCertificateChainStatus": "stored; each certificate Failed (no OCSP backend configured)",
    "PullDynamicScheduleUpdate": "stored; replies Rejected (SIGEC-VE sends no dynamic profiles)",
    "VatNumberValidation": "stored; replies Rejected, NotSupported (no VAT register configured)",
}
_STORED = "stored as it came in `charge_point_events`"

CHARGER_TEST = "tests/test_ocpp_conformance.py::test_charger_initiated_message[{v}-{a}]"
CSMS_TEST = "tests/test_ocpp_conformance.py::test_csms_initiated_command[{v}-{a}]"
SEND_TEST = "tests/test_ocpp_conformance.py::test_send_message_is_stored_and_never_answered"
VERSIONS = (
    ("1.6", v16, v16.ChargePointSession16),
    ("2.0.1", v201, v201.ChargePointSession201),
    ("2.1", v21, v21.ChargePointSession21),
)


def _directions(module) -> dict[str, str]:
    """Each action of a version and who sends it (pure)."""
    both = module.CHARGER_INITIATED_ACTIONS & module.CSMS_INITIATED_ACTIONS
    sent = {a: "charger → CSMS" for a in module.CHARGER_INITIATED_ACTIONS}
    sent |= {a: "CSMS → charger" for a in module.CSMS_INITIATED_ACTIONS}
    sent |= {a: "both" for a in both}
    sent |= {a: "charger → CSMS (SEND)" for a in getattr(module, "SEND_ACTIONS", ())}
    return sent


def _summary() -> list[str]:
    directions = {version: _directions(module) for version, module, _ in VERSIONS}
    actions = sorted(set().union(*directions.values()))
    lines = [
        "## Every message by version",
        "",
        "Who sends each message in each version SIGEC-VE speaks (— : not in that version).",
        "",
        "| message | " + " | ".join(v for v, _, _ in VERSIONS) + " |",
        "| --- |" + " --- |" * len(VERSIONS),
    ]
    for action in actions:
        cells = [directions[v].get(action, "—") for v, _, _ in VERSIONS]
        lines.append(f"| {action} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def report() -> str:
    lines = [
        "# OCPP conformance",
        "",
        "Every OCPP 1.6J (Core, Firmware Management, Local Auth List, Reservation, Smart",
        "Charging, Remote Trigger and the security extension), OCPP 2.0.1 and OCPP 2.1 message,",
        "with how SIGEC-VE handles it and the test that drives it through the real Serve",
        "ingress with a real WebSocket client. Generated from the code by",
        "`python -m sigecve.ocpp.conformance`; `tests/test_conformance_report.py` fails when",
        "this file and the code disagree.",
        "",
        "Every charger-initiated message is validated against its schema (a CALLERROR with the",
        "spec's code otherwise), logged in `ocpp_messages`, and answered after its data is",
        "committed. Every CSMS-initiated command goes through `POST",
        "/api/v1/charge-points/{id}/commands`: validated against the request schema (422",
        "otherwise), sent, and the charger's reply (or a 504 timeout) returned.",
        "",
        "OCPP 2.1 keeps every 2.0.1 message, handled as 2.0.1's is but checked against the 2.1",
        "schemas in both directions; the messages new in 2.1 are validated, stored as they came",
        "and answered with what is true of SIGEC-VE (it has no DER control, payment terminal,",
        "VAT register or dynamic schedules of its own yet).",
        "",
        *_summary(),
    ]
    for version, module, session in VERSIONS:
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
        for action in sorted(session.send_actions):
            handling = _HANDLING.get(action, _STORED)
            lines.append(
                f"| charger → CSMS (SEND) | {action} | handled, tested | {handling} "
                f"| `{SEND_TEST}` |"
            )
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
        "Answered with a CALLERROR and the connection stays up (each version's codes):",
        "",
        "| frame | 1.6 | 2.0.1 | 2.1 |",
        "| --- | --- | --- | --- |",
        "| not JSON | FormationViolation | RpcFrameworkError | RpcFrameworkError |",
        "| not an array, missing elements | ProtocolError | RpcFrameworkError "
        "| RpcFrameworkError |",
        "| unknown message type id | ProtocolError | MessageTypeNotSupported "
        "| MessageTypeNotSupported |",
        "| CALLRESULTERROR (5), SEND (6) | ProtocolError | MessageTypeNotSupported "
        "| taken (5 logged, 6 stored), never answered |",
        "| unknown action | NotImplemented | NotImplemented | NotImplemented |",
        "| action a charger does not send | NotSupported | NotSupported | NotSupported |",
        "| payload violating the schema | FormationViolation, TypeConstraintViolation, ... "
        "| FormatViolation, TypeConstraintViolation, ... "
        "| FormatViolation, TypeConstraintViolation, ... |",
        "| binary frame | ProtocolError | RpcFrameworkError | RpcFrameworkError |",
        "| larger than `SIGECVE_MAX_FRAME_BYTES` (256 KiB) | FormationViolation "
        "| FormatViolation | FormatViolation |",
        "",
        "Tests: `tests/test_ocpp_conformance.py::test_malformed_frames_over_the_wire` (through",
        "the ingress) and `tests/test_ocpp_sessions.py::"
        "test_malformed_frames_get_the_specs_call_error_and_the_session_goes_on`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(), end="")
