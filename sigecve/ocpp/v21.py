"""OCPP 2.1, CSMS side: a 2.0.1 session that speaks 2.1's schemas and its new messages.

2.1 keeps every 2.0.1 message (its schemas only add optional fields and widen enums), so each
is handled exactly as 2.0.1's is: the handlers are inherited, and their replies are checked
against the 2.1 response schemas before they go out. The messages new in 2.1 are validated,
stored as they came in `charge_point_events` and answered with what is true of SIGEC-VE today
(no DER control, payment terminal, VAT service or dynamic schedules of its own).
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v21 import call, call_result
from ocpp.v21.enums import Action

from sigecve.domain import V2XCapability
from sigecve.ocpp import v201
from sigecve.ocpp.session_base import stored_notification
from sigecve.ocpp.timestamps import now_timestamp

PROTOCOL = "ocpp2.1"

NEW_CHARGER_INITIATED_ACTIONS = frozenset(
    {
        "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus",
        "NotifyDERAlarm", "NotifyDERStartStop", "NotifyPriorityCharging", "NotifySettlement",
        "OpenPeriodicEventStream", "PullDynamicScheduleUpdate", "ReportDERControl",
        "VatNumberValidation",
    }
)  # fmt: skip
NEW_CSMS_INITIATED_ACTIONS = frozenset(
    {
        "AFRRSignal", "AdjustPeriodicEventStream", "ChangeTransactionTariff", "ClearDERControl",
        "ClearTariffs", "GetDERControl", "GetPeriodicEventStream", "GetTariffs",
        "NotifyAllowedEnergyTransfer", "NotifyWebPaymentStarted", "RequestBatterySwap",
        "SetDERControl", "SetDefaultTariff", "UpdateDynamicSchedule", "UsePriorityCharging",
    }
)  # fmt: skip
CHARGER_INITIATED_ACTIONS = v201.CHARGER_INITIATED_ACTIONS | NEW_CHARGER_INITIATED_ACTIONS
CSMS_INITIATED_ACTIONS = v201.CSMS_INITIATED_ACTIONS | NEW_CSMS_INITIATED_ACTIONS
# Sent with message type SEND (6): never answered, not even with an error.
SEND_ACTIONS = frozenset({"NotifyPeriodicEventStream"})
# Energy transfer modes with bidirectional power transfer (ISO 15118-20 BPT).
BIDIRECTIONAL_MODES = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})


def v2x_capability(needs: dict[str, Any]) -> V2XCapability | None:
    """What an EV may give back, from a 2.1 ChargingNeeds (snake_case keys; W, Wh), or None
    when it did not ask for a bidirectional mode or declared no discharge power (pure).

    `evMinV2XEnergyRequest` is the energy to the lowest charge V2G may leave (negative: it
    may give that much of what it arrived with); `evMaxEnergyRequest`, to a full battery."""
    if needs.get("requested_energy_transfer") not in BIDIRECTIONAL_MODES:
        return None
    v2x = needs.get("v2x_charging_parameters") or {}
    discharge_w = abs(v2x.get("max_discharge_power") or 0.0)
    if discharge_w <= 0:
        return None
    floor_wh = v2x.get("ev_min_v2x_energy_request")
    headroom_wh = v2x.get("ev_max_energy_request")
    return V2XCapability(
        max_discharge_kw=discharge_w / 1000,
        v2x_min_kwh=min(floor_wh / 1000, 0.0) if floor_wh is not None else 0.0,
        max_energy_kwh=max(headroom_wh / 1000, 0.0) if headroom_wh is not None else None,
    )


class ChargePointSession21(v201.ChargePointSession201):
    """Handles what a 2.1 charging station sends; replies go out after commit."""

    protocol = PROTOCOL
    csms_initiated_actions = CSMS_INITIATED_ACTIONS
    all_actions = frozenset(a.value for a in Action) | SEND_ACTIONS
    send_actions = SEND_ACTIONS
    # The `ocpp` package's 2.1 schemas and dataclasses, for what comes in and goes out.
    _call = call
    _call_result = call_result
    _ocpp_version = "2.1"
    v2x_capability = staticmethod(v2x_capability)

    on_battery_swap = stored_notification(Action.battery_swap, call_result.BatterySwap)
    on_open_periodic_event_stream = stored_notification(
        Action.open_periodic_event_stream,
        lambda: call_result.OpenPeriodicEventStream(status="Accepted"),
    )
    on_close_periodic_event_stream = stored_notification(
        Action.close_periodic_event_stream, call_result.ClosePeriodicEventStream
    )
    on_notify_der_alarm = stored_notification(Action.notify_der_alarm, call_result.NotifyDERAlarm)
    on_notify_der_start_stop = stored_notification(
        Action.notify_der_start_stop, call_result.NotifyDERStartStop
    )
    on_report_der_control = stored_notification(
        Action.report_der_control, call_result.ReportDERControl
    )
    on_notify_priority_charging = stored_notification(
        Action.notify_priority_charging, call_result.NotifyPriorityCharging
    )
    on_notify_settlement = stored_notification(
        Action.notify_settlement, call_result.NotifySettlement
    )
    # SIGEC-VE sends no dynamic charging profiles, so there is no update to pull.
    on_pull_dynamic_schedule_update = stored_notification(
        Action.pull_dynamic_schedule_update,
        lambda: call_result.PullDynamicScheduleUpdate(
            status="Rejected",
            status_info={
                "reason_code": "UnknownProfile",
                "additional_info": "SIGEC-VE sends no dynamic charging profiles",
            },
        ),
    )

    @on(Action.vat_number_validation)
    async def on_vat_number_validation(self, vat_number: str, **kw):
        """No VAT register is configured: the number is neither confirmed nor denied."""
        await self.repos.events.add(
            self.id, self.protocol, "VatNumberValidation", self.current_payload()
        )
        return call_result.VatNumberValidation(
            vat_number=vat_number,
            evse_id=kw.get("evse_id"),
            status="Rejected",
            status_info={
                "reason_code": "NotSupported",
                "additional_info": "no VAT number validation service is configured",
            },
        )

    @on(Action.get_certificate_chain_status)
    async def on_get_certificate_chain_status(self, certificate_status_requests: list, **_):
        """Each certificate asked about is reported Failed: no OCSP responder or CRL is
        configured (as 2.0.1's GetCertificateStatus)."""
        await self.repos.events.add(
            self.id, self.protocol, "GetCertificateChainStatus", self.current_payload()
        )
        return call_result.GetCertificateChainStatus(
            certificate_status=[
                {
                    "certificate_hash_data": request["certificate_hash_data"],
                    "source": request["source"],
                    "status": "Failed",
                    "next_update": now_timestamp(),
                }
                for request in certificate_status_requests
            ]
        )
