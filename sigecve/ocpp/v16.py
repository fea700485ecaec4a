"""OCPP 1.6J, central-system side: one session object per connected charge point."""

from __future__ import annotations

from typing import Any

from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, RegistrationStatus

from sigecve.domain import ConnectorStatus
from sigecve.ocpp.meter_values import samples_from_meter_values, signed_values_16
from sigecve.ocpp.session_base import CentralSystemSession, stored_notification
from sigecve.ocpp.timestamps import format_timestamp, now_timestamp, parse_timestamp, utc_now
from sigecve.services import transactions
from sigecve.services.id_tags import authorize

PROTOCOL = "ocpp1.6"

# What a central system may send a 1.6J charger (Core, profiles, security extension).
CSMS_INITIATED_ACTIONS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)


class ChargePointSession16(CentralSystemSession, OcppChargePoint):
    """Handles what a 1.6 charger sends; every reply goes out after its data is committed."""

    protocol = PROTOCOL
    csms_initiated_actions = CSMS_INITIATED_ACTIONS
    all_actions = frozenset(a.value for a in Action)

    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kw):
        boot_info = snake_to_camel_case(
            {
                "charge_point_vendor": charge_point_vendor,
                "charge_point_model": charge_point_model,
                **kw,
            }
        )
        await self.repos.charge_points.record_boot(
            self.id,
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=kw.get("charge_point_serial_number"),
            firmware_version=kw.get("firmware_version"),
            boot_info=boot_info,
        )
        status, interval = await self.boot_answer()
        return call_result.BootNotification(
            current_time=now_timestamp(), interval=interval, status=RegistrationStatus(status)
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=self.heartbeat_seen())

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str, **kw):
        await self.repos.connectors.record_status(
            self.id,
            ConnectorStatus(
                connector_id=connector_id,
                status=status,
                error_code=error_code,
                info=kw.get("info"),
                vendor_error_code=kw.get("vendor_error_code"),
                status_at=parse_timestamp(kw["timestamp"]) if kw.get("timestamp") else utc_now(),
            ),
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str):
        status, tag = await authorize(self.repos, id_tag, utc_now())
        return call_result.Authorize(id_tag_info=_id_tag_info(status, tag))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw
    ):
        transaction_id, status = await transactions.start_transaction(
            self.repos,
            charge_point_id=self.id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start_wh=meter_start,
            started_at=parse_timestamp(timestamp),
            reservation_id=kw.get("reservation_id"),
            now=utc_now(),
        )
        self.charging_changed()
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": status.value}
        )

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, **kw):
        samples = samples_from_meter_values(connector_id, kw.get("transaction_id"), meter_value)
        await transactions.record_meter_values(self.repos, self.id, samples)
        signed = signed_values_16(connector_id, kw.get("transaction_id"), meter_value)
        await transactions.record_signed_meter_values(self.repos, self.id, signed)
        self.power_observed(kw.get("transaction_id"), samples)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kw):
        samples = samples_from_meter_values(0, transaction_id, kw.get("transaction_data") or [])
        _, status = await transactions.stop_transaction(
            self.repos,
            charge_point_id=self.id,
            transaction_id=transaction_id,
            meter_stop_wh=meter_stop,
            stopped_at=parse_timestamp(timestamp),
            reason=kw.get("reason", "Local"),
            id_tag=kw.get("id_tag"),
            samples=samples,
            now=utc_now(),
        )
        signed = signed_values_16(0, transaction_id, kw.get("transaction_data") or [])
        await transactions.record_signed_meter_values(self.repos, self.id, signed)
        self.charging_changed()
        return call_result.StopTransaction(
            id_tag_info={"status": status.value} if status is not None else None
        )

    # Firmware Management, diagnostics, security extension: stored as they came.
    on_data_transfer = stored_notification(
        Action.data_transfer, lambda: call_result.DataTransfer(status="UnknownVendorId")
    )
    on_diagnostics_status_notification = stored_notification(
        Action.diagnostics_status_notification, call_result.DiagnosticsStatusNotification
    )
    on_firmware_status_notification = stored_notification(
        Action.firmware_status_notification, call_result.FirmwareStatusNotification
    )
    on_security_event_notification = stored_notification(
        Action.security_event_notification, call_result.SecurityEventNotification
    )
    on_log_status_notification = stored_notification(
        Action.log_status_notification, call_result.LogStatusNotification
    )
    on_signed_firmware_status_notification = stored_notification(
        Action.signed_firmware_status_notification, call_result.SignedFirmwareStatusNotification
    )
    # No certificate authority is configured: the request is kept and refused.
    on_sign_certificate = stored_notification(
        Action.sign_certificate, lambda: call_result.SignCertificate(status="Rejected")
    )


def _id_tag_info(status, tag) -> dict[str, Any]:
    info: dict[str, Any] = {"status": status.value}
    if tag is not None and tag.expiry_date is not None:
        info["expiry_date"] = format_timestamp(tag.expiry_date)
    if tag is not None and tag.parent_id_tag:
        info["parent_id_tag"] = tag.parent_id_tag
    return info


CHARGER_INITIATED_ACTIONS = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "SecurityEventNotification",
        "SignCertificate",
        "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    }
)

__all__ = [
    "CHARGER_INITIATED_ACTIONS",
    "CSMS_INITIATED_ACTIONS",
    "PROTOCOL",
    "ChargePointSession16",
]
