"""The commands the CSMS sends an OCPP 1.6J charger, built on the `ocpp` package's
dataclasses (pure). The same functions as `outbound_v201`, for `Commander`."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from sigecve.device_model import (
    Variable,
    variable_from_change_16,
    variables_from_configuration_16,
)
from sigecve.domain import DisplayMessage
from sigecve.local_list import LocalListEntry
from sigecve.ocpp.outbound import OutboundCall, outbound
from sigecve.services.errors import Conflict, InvalidInput

PROTOCOL = "ocpp1.6"
MAX_ID_TAG = 20  # CiString20Type


def reset(soft: bool) -> OutboundCall:
    return outbound(call.Reset(type="Soft" if soft else "Hard"))


def unlock(connector_id: int) -> OutboundCall:
    return outbound(call.UnlockConnector(connector_id=connector_id))


def remote_start(id_tag: str, connector_id: int | None, remote_start_id: int) -> OutboundCall:
    _check_id_tag(id_tag)
    return outbound(call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id))


def remote_stop(transaction_id: int | str) -> OutboundCall:
    return outbound(call.RemoteStopTransaction(transaction_id=int(transaction_id)))


def change_availability(connector_id: int, operative: bool) -> OutboundCall:
    kind = "Operative" if operative else "Inoperative"
    return outbound(call.ChangeAvailability(connector_id=connector_id, type=kind))


def trigger(message: str, connector_id: int | None) -> OutboundCall:
    return outbound(call.TriggerMessage(requested_message=message, connector_id=connector_id))


def clear_cache() -> OutboundCall:
    return outbound(call.ClearCache())


def get_configuration(keys: list[str]) -> OutboundCall:
    return outbound(call.GetConfiguration(key=keys or None))


def configuration_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The GetConfiguration reply as items (key, value, readonly, status)."""
    items = [
        {"key": e.get("key", ""), "value": e.get("value"), "readonly": e.get("readonly")}
        for e in response.get("configurationKey") or []
    ]
    return items + [{"key": k, "status": "UnknownKey"} for k in response.get("unknownKey") or []]


def change_configuration(key: str, value: str) -> OutboundCall:
    return outbound(call.ChangeConfiguration(key=key, value=value))


def configuration_status(response: dict[str, Any]) -> str | None:
    """The change's own status: ChangeConfiguration's reply has it at the top (None)."""
    return None


def device_model_report(request_id: int) -> OutboundCall:
    """Ask for the whole configuration: 1.6 answers GetConfiguration in its reply."""
    return get_configuration([])


def variables_read(response: dict[str, Any]) -> list[Variable]:
    """The variables a GetConfiguration reply tells of."""
    return variables_from_configuration_16(response.get("configurationKey") or [])


def variables_changed(key: str, value: str, response: dict[str, Any]) -> list[Variable]:
    """The variable a ChangeConfiguration and its reply tell of."""
    return [variable_from_change_16(key, value, str(response.get("status", "Replied")))]


def set_password(password: str) -> OutboundCall:
    return change_configuration("AuthorizationKey", password)


def update_firmware(
    location: str, retrieve: str, retries: int | None, retry_interval_s: int | None, request_id: int
) -> OutboundCall:
    return outbound(
        call.UpdateFirmware(
            location=location,
            retrieve_date=retrieve,
            retries=retries,
            retry_interval=retry_interval_s,
        )
    )


def reserve(reservation_id: int, connector_id: int, expiry: str, id_tag: str) -> OutboundCall:
    _check_id_tag(id_tag)
    return outbound(
        call.ReserveNow(
            connector_id=connector_id,
            expiry_date=expiry,
            id_tag=id_tag,
            reservation_id=reservation_id,
        )
    )


def cancel_reservation(reservation_id: int) -> OutboundCall:
    return outbound(call.CancelReservation(reservation_id=reservation_id))


def set_charging_profile(connector_id: int, profile: dict[str, Any]) -> OutboundCall:
    return outbound(
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles={}),
        csChargingProfiles=profile,
    )


def charging_profile_id(profile: dict[str, Any]) -> Any:
    return profile.get("chargingProfileId")


def clear_charging_profile(profile_id: int | None) -> OutboundCall:
    return outbound(call.ClearChargingProfile(id=profile_id))


def _check_id_tag(id_tag: str) -> None:
    if len(id_tag) > MAX_ID_TAG:
        raise InvalidInput(f"id_tag: OCPP 1.6 chargers take at most {MAX_ID_TAG} characters")


def send_local_list(version: int, update_type: str, entries: list[LocalListEntry]) -> OutboundCall:
    return outbound(
        call.SendLocalList(
            list_version=version,
            update_type=update_type,
            # Left out when empty: the schemas want at least one entry if it is there.
            local_authorization_list=[_local_entry(e) for e in entries] or None,
        )
    )


def _local_entry(e: LocalListEntry) -> dict[str, Any]:
    if e.status is None:
        return {"id_tag": e.id_tag}  # removed from the charger's list
    info: dict[str, Any] = {"status": e.status}
    if e.expiry_date is not None:
        info["expiry_date"] = e.expiry_date.isoformat()
    if e.parent_id_tag is not None:
        info["parent_id_tag"] = e.parent_id_tag
    return {"id_tag": e.id_tag, "id_tag_info": info}


def get_local_list_version() -> OutboundCall:
    return outbound(call.GetLocalListVersion())


def local_list_version(response: dict[str, Any]) -> int:
    return int(response["listVersion"])


def _no_display_messages() -> Conflict:
    return Conflict("OCPP 1.6 has no display messages (they came with 2.0.1)")


def set_display_message(message: DisplayMessage) -> OutboundCall:
    raise _no_display_messages()


def get_display_messages(request_id: int) -> OutboundCall:
    raise _no_display_messages()


def clear_display_message(message_id: int) -> OutboundCall:
    raise _no_display_messages()


def _no_monitoring() -> Conflict:
    return Conflict("OCPP 1.6 has no variable monitoring (it came with 2.0.1)")


def set_variable_monitoring(monitors: list[dict[str, Any]]) -> OutboundCall:
    raise _no_monitoring()


def monitoring_results(response: dict[str, Any]) -> list[dict[str, Any]]:
    raise _no_monitoring()


def clear_variable_monitoring(monitor_ids: list[int]) -> OutboundCall:
    raise _no_monitoring()


def monitors_cleared(response: dict[str, Any]) -> list[int]:
    raise _no_monitoring()


def get_monitoring_report(request_id: int) -> OutboundCall:
    raise _no_monitoring()
