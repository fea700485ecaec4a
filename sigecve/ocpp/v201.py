"""OCPP 2.0.1, CSMS side: one session object per connected charging station."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as OcppChargePoint
from ocpp.v201 import call_result
from ocpp.v201.enums import Action, RegistrationStatusEnumType
from pydantic import ValidationError

from sigecve.display_messages import from_message_info
from sigecve.domain import ConnectorStatus, IdTagStatus, SessionDemand, V2XCapability
from sigecve.ocpp.meter_values import (
    last_energy_register_wh,
    samples_from_meter_values_201,
    signed_values_201,
)
from sigecve.ocpp.notify_event import connector_updates
from sigecve.ocpp.session_base import CentralSystemSession, stored_notification
from sigecve.ocpp.timestamps import now_timestamp, parse_timestamp, utc_now
from sigecve.services import device_model, reservations, transactions, variable_monitoring
from sigecve.services.id_tags import authorize

PROTOCOL = "ocpp2.0.1"

CHARGER_INITIATED_ACTIONS = frozenset(
    {
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
        "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
        "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
        "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles",
        "ReservationStatusUpdate", "SecurityEventNotification", "SignCertificate",
        "StatusNotification", "TransactionEvent",
    }
)  # fmt: skip

CSMS_INITIATED_ACTIONS = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache",
        "ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated",
        "CustomerInformation", "DataTransfer", "DeleteCertificate", "GetBaseReport",
        "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport",
        "GetReport", "GetTransactionStatus", "GetVariables", "InstallCertificate",
        "PublishFirmware", "RequestStartTransaction", "RequestStopTransaction", "ReserveNow",
        "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage", "SetMonitoringBase",
        "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
        "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
    }
)  # fmt: skip

# 2.0.1 tells an unknown token apart from an invalid one.
_TOKEN_STATUS = {IdTagStatus.invalid: "Unknown"}


def ev_charging_needs(needs: dict[str, Any]) -> SessionDemand:
    """A session demand from 2.0.1 or 2.1 ChargingNeeds (snake_case keys; Wh, A, V, W): the
    AC or DC parameters, else 2.1's V2X ones (target energy, maximum charging power) (pure)."""
    params = needs.get("ac_charging_parameters") or needs.get("dc_charging_parameters") or {}
    v2x = needs.get("v2x_charging_parameters") or {}
    energy_wh = params.get("energy_amount", v2x.get("ev_target_energy_request"))
    max_power_w = params.get("ev_max_power")
    if max_power_w is None and params.get("ev_max_current") and params.get("ev_max_voltage"):
        max_power_w = params["ev_max_current"] * params["ev_max_voltage"]
    if max_power_w is None:
        max_power_w = v2x.get("max_charge_power")
    departure = needs.get("departure_time")
    return SessionDemand(
        target_energy_kwh=energy_wh / 1000 if energy_wh is not None else None,
        departure_at=parse_timestamp(departure) if departure else None,
        ev_max_power_kw=max_power_w / 1000 if max_power_w else None,
    )


class ChargePointSession201(CentralSystemSession, OcppChargePoint):
    """Handles what a 2.0.1 charging station sends; replies go out after commit."""

    protocol = PROTOCOL
    csms_initiated_actions = CSMS_INITIATED_ACTIONS
    all_actions = frozenset(a.value for a in Action)

    async def _token_status(self, id_token: dict | None) -> str | None:
        if not id_token:
            return None
        if id_token.get("type") == "NoAuthorization":
            return "Accepted"
        status, _ = await authorize(self.repos, id_token["id_token"], utc_now())
        return _TOKEN_STATUS.get(status, status.value)

    @staticmethod
    def v2x_capability(charging_needs: dict[str, Any]) -> V2XCapability | None:
        """What the EV may give back: nothing on 2.0.1 (it has no discharging)."""
        return None

    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station: dict, reason: str, **_):
        await self.repos.charge_points.record_boot(
            self.id,
            vendor=charging_station["vendor_name"],
            model=charging_station["model"],
            serial_number=charging_station.get("serial_number"),
            firmware_version=charging_station.get("firmware_version"),
            boot_info=self.current_payload(),
        )
        status, interval = await self.boot_answer()
        return call_result.BootNotification(
            current_time=now_timestamp(),
            interval=interval,
            status=RegistrationStatusEnumType(status),
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_):
        return call_result.Heartbeat(current_time=self.heartbeat_seen())

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_
    ):
        await self.repos.connectors.record_status(
            self.id,
            ConnectorStatus(
                connector_id=evse_id,
                status=connector_status,
                info=f"connector {connector_id}" if connector_id != 1 else None,
                status_at=parse_timestamp(timestamp),
            ),
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict, **_):
        status = await self._token_status(id_token)
        return call_result.Authorize(id_token_info={"status": status})

    @on(Action.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict,
        **kw,
    ):
        evse = kw.get("evse") or {}
        samples = samples_from_meter_values_201(evse.get("id", 0), kw.get("meter_value") or [])
        id_token = kw.get("id_token")
        status = await self._token_status(id_token)
        at = parse_timestamp(timestamp)
        if event_type == "Started" and id_token and status is not None:
            # An EVSE reserved for another token is refused to this one.
            status = await reservations.status_on_connector(
                self.repos, self.id, evse.get("id", 0), id_token["id_token"], status, at
            )
        # Committed with the reply's group commit; a repeated seqNo is a retry and a no-op.
        internal_id, _ = await self.repos.transactions.apply_event(
            charge_point_id=self.id,
            ocpp_transaction_id=transaction_info["transaction_id"],
            seq_no=seq_no,
            event_type=event_type,
            trigger_reason=trigger_reason,
            timestamp=at,
            payload=self.current_payload(),
            connector_id=evse.get("id", 0),
            id_tag=id_token["id_token"] if id_token else None,
            id_tag_status=status,
            meter_wh=last_energy_register_wh(samples),
            stopped_reason=transaction_info.get("stopped_reason"),
            samples=samples,
            protocol=self.protocol,
            offline=bool(kw.get("offline")),
        )
        signed = signed_values_201(evse.get("id", 0), kw.get("meter_value") or [])
        for value in signed:
            value.transaction_id = internal_id
        await transactions.record_signed_meter_values(self.repos, self.id, signed)
        if event_type == "Started" and id_token and status == "Accepted":
            await reservations.use_reservation(
                self.repos,
                self.id,
                reservation_id=kw.get("reservation_id"),
                connector_id=evse.get("id", 0),
                id_tag=id_token["id_token"],
                transaction_id=internal_id,
                at=at,
            )
        if event_type in ("Started", "Ended"):
            self.charging_changed()
        else:
            self.power_observed(transaction_info["transaction_id"], samples)
        return call_result.TransactionEvent(
            id_token_info={"status": status} if status is not None else None
        )

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id: int, meter_value: list, **_):
        samples = samples_from_meter_values_201(evse_id, meter_value)
        await transactions.record_meter_values(self.repos, self.id, samples)
        signed = signed_values_201(evse_id, meter_value)
        await transactions.record_signed_meter_values(self.repos, self.id, signed)
        return call_result.MeterValues()

    @on(Action.notify_report)
    async def on_notify_report(self, **_):
        """A part of a device model report: kept as it came, its variables stored."""
        await self.repos.events.add(self.id, self.protocol, "NotifyReport", self.current_payload())
        await device_model.record_report_part(self.repos, self.id, self.current_payload())
        return call_result.NotifyReport()

    @on(Action.notify_event)
    async def on_notify_event(self, **_):
        """Kept as it came; what it says of connectors (their state, their problems) goes
        where 1.6's StatusNotification puts it, so every version reads alike; its monitors'
        alerting events raise alerts, and clear them when cleared."""
        payload = self.current_payload()
        await self.repos.events.add(self.id, self.protocol, "NotifyEvent", payload)
        statuses, problems = connector_updates(payload["eventData"])
        for status in statuses:
            await self.repos.connectors.record_status(self.id, status)
        for problem in problems:
            await self.repos.connectors.record_problem(self.id, problem)
        await variable_monitoring.record_events(self.repos, self.id, payload["eventData"])
        return call_result.NotifyEvent()

    # Everything else a station reports is validated, stored as it came and acknowledged.

    @on(Action.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(self, evse_id: int, charging_needs: dict, **_):
        """The EV's energy, departure and limits become its session's demand."""
        await self.repos.events.add(
            self.id, self.protocol, "NotifyEVChargingNeeds", self.current_payload()
        )
        transaction_id = await self.repos.demands.open_transaction_on(self.id, evse_id)
        if transaction_id is None:
            return call_result.NotifyEVChargingNeeds(status="Rejected")
        try:
            demand = ev_charging_needs(charging_needs)
        except ValidationError as e:  # e.g. more than the planner's bounds: said, not a crash
            why = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            return call_result.NotifyEVChargingNeeds(
                status="Rejected",
                status_info={"reason_code": "InvalidValue", "additional_info": why[:500]},
            )
        await self.repos.demands.upsert(
            transaction_id, demand, "ev", self.v2x_capability(charging_needs)
        )
        self.charging_changed()
        return call_result.NotifyEVChargingNeeds(status="Accepted")

    on_notify_ev_charging_schedule = stored_notification(
        Action.notify_ev_charging_schedule,
        lambda: call_result.NotifyEVChargingSchedule(status="Accepted"),
    )
    on_report_charging_profiles = stored_notification(
        Action.report_charging_profiles, call_result.ReportChargingProfiles
    )
    on_notify_charging_limit = stored_notification(
        Action.notify_charging_limit, call_result.NotifyChargingLimit
    )
    on_cleared_charging_limit = stored_notification(
        Action.cleared_charging_limit, call_result.ClearedChargingLimit
    )
    on_firmware_status_notification = stored_notification(
        Action.firmware_status_notification, call_result.FirmwareStatusNotification
    )
    on_publish_firmware_status_notification = stored_notification(
        Action.publish_firmware_status_notification,
        call_result.PublishFirmwareStatusNotification,
    )
    on_log_status_notification = stored_notification(
        Action.log_status_notification, call_result.LogStatusNotification
    )
    on_security_event_notification = stored_notification(
        Action.security_event_notification, call_result.SecurityEventNotification
    )

    @on(Action.reservation_status_update)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **_
    ):
        """The station ended a reservation (Expired, Removed): kept, and the reservation too."""
        await self.repos.events.add(
            self.id, self.protocol, "ReservationStatusUpdate", self.current_payload()
        )
        await self.repos.reservations.ended_by_charger(
            self.id, reservation_id, reservation_update_status
        )
        return call_result.ReservationStatusUpdate()

    on_notify_customer_information = stored_notification(
        Action.notify_customer_information, call_result.NotifyCustomerInformation
    )

    @on(Action.notify_display_messages)
    async def on_notify_display_messages(self, **_):
        """What the station shows (a GetDisplayMessages answer, in parts): kept."""
        payload = self.current_payload()
        await self.repos.events.add(self.id, self.protocol, "NotifyDisplayMessages", payload)
        reported = from_message_info(self.id, payload.get("messageInfo") or [])
        await self.repos.display_messages.store(reported)
        return call_result.NotifyDisplayMessages()

    @on(Action.notify_monitoring_report)
    async def on_notify_monitoring_report(self, **_):
        """A part of a GetMonitoringReport answer: kept as it came, its monitors stored."""
        payload = self.current_payload()
        await self.repos.events.add(self.id, self.protocol, "NotifyMonitoringReport", payload)
        await variable_monitoring.record_monitoring_report(self.repos, self.id, payload)
        return call_result.NotifyMonitoringReport()

    on_data_transfer = stored_notification(
        Action.data_transfer, lambda: call_result.DataTransfer(status="UnknownVendorId")
    )
    # No certificate authority or ISO 15118 backend is configured: kept, and refused.
    on_sign_certificate = stored_notification(
        Action.sign_certificate, lambda: call_result.SignCertificate(status="Rejected")
    )
    on_get_15118_ev_certificate = stored_notification(
        Action.get_15118_ev_certificate,
        lambda: call_result.Get15118EVCertificate(status="Failed", exi_response=""),
    )
    on_get_certificate_status = stored_notification(
        Action.get_certificate_status,
        lambda: call_result.GetCertificateStatus(status="Failed"),
    )
