"""The commands the CSMS sends an OCPP 2.0.1 charging station, built on the `ocpp`
package's dataclasses (pure). The same functions as `outbound_v16`, for `Commander`."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from sigecve.device_model import (
    Variable,
    variables_from_get_variables,
    variables_from_set_variables,
)
from sigecve.display_messages import message_info
from sigecve.domain import DisplayMessage
from sigecve.local_list import LocalListEntry
from sigecve.ocpp.outbound import OutboundCall, outbound
from sigecve.services.errors import InvalidInput

PROTOCOL = "ocpp2.0.1"


def reset(soft: bool) -> OutboundCall:
    return outbound(call.Reset(type="OnIdle" if soft else "Immediate"))


def unlock(connector_id: int) -> OutboundCall:
    # SIGEC-VE numbers a 2.0.1 station's EVSEs as connectors, each with its connector 1.
    return outbound(call.UnlockConnector(evse_id=connector_id, connector_id=1))


def remote_start(id_tag: str, connector_id: int | None, remote_start_id: int) -> OutboundCall:
    return outbound(
        call.RequestStartTransaction(
            id_token=_id_token(id_tag), remote_start_id=remote_start_id, evse_id=connector_id
        )
    )


def remote_stop(transaction_id: int | str) -> OutboundCall:
    return outbound(call.RequestStopTransaction(transaction_id=str(transaction_id)))


def change_availability(connector_id: int, operative: bool) -> OutboundCall:
    kind = "Operative" if operative else "Inoperative"
    evse = {"id": connector_id} if connector_id else None  # 0: the whole station
    return outbound(call.ChangeAvailability(operational_status=kind, evse=evse))


def trigger(message: str, connector_id: int | None) -> OutboundCall:
    evse = {"id": connector_id} if connector_id is not None else None
    return outbound(call.TriggerMessage(requested_message=message, evse=evse))


def clear_cache() -> OutboundCall:
    return outbound(call.ClearCache())


def get_configuration(keys: list[str]) -> OutboundCall:
    if not keys:
        raise InvalidInput(
            "keys: name the variables to read (Component.Variable) for an OCPP 2.0.1 "
            "charger; its full report comes through GetBaseReport"
        )
    return outbound(call.GetVariables(get_variable_data=[variable_ref(k) for k in keys]))


def configuration_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The GetVariables reply as items (key, value, status)."""
    return [
        {
            "key": f"{r['component']['name']}.{r['variable']['name']}",
            "value": r.get("attributeValue"),
            "status": r.get("attributeStatus", "Accepted"),
        }
        for r in response.get("getVariableResult") or []
    ]


def change_configuration(key: str, value: str) -> OutboundCall:
    data = {**variable_ref(key), "attribute_value": value}
    return outbound(call.SetVariables(set_variable_data=[data]))


def configuration_status(response: dict[str, Any]) -> str | None:
    """The change's own status: SetVariables has it per variable, not at the top."""
    results = response.get("setVariableResult") or []
    return str(results[0].get("attributeStatus", "Replied")) if results else None


def device_model_report(request_id: int) -> OutboundCall:
    """Ask for the whole device model: it comes in NotifyReport parts under `request_id`."""
    return outbound(call.GetBaseReport(request_id=request_id, report_base="FullInventory"))


def variables_read(response: dict[str, Any]) -> list[Variable]:
    """The variables a GetVariables reply tells of (none in a GetBaseReport reply)."""
    return variables_from_get_variables(response.get("getVariableResult") or [])


def variables_changed(key: str, value: str, response: dict[str, Any]) -> list[Variable]:
    """The variables a SetVariables of `key` and its reply tell of."""
    sent = [{**variable_ref(key), "attributeValue": value}]
    return variables_from_set_variables(sent, response.get("setVariableResult") or [])


def set_password(password: str) -> OutboundCall:
    return change_configuration("SecurityCtrlr.BasicAuthPassword", password)


def update_firmware(
    location: str, retrieve: str, retries: int | None, retry_interval_s: int | None, request_id: int
) -> OutboundCall:
    return outbound(
        call.UpdateFirmware(
            request_id=request_id,
            firmware={"location": location, "retrieve_date_time": retrieve},
            retries=retries,
            retry_interval=retry_interval_s,
        )
    )


def reserve(reservation_id: int, connector_id: int, expiry: str, id_tag: str) -> OutboundCall:
    return outbound(
        call.ReserveNow(
            id=reservation_id,
            expiry_date_time=expiry,
            id_token=_id_token(id_tag),
            evse_id=connector_id or None,  # 0: any EVSE
        )
    )


def cancel_reservation(reservation_id: int) -> OutboundCall:
    return outbound(call.CancelReservation(reservation_id=reservation_id))


def set_charging_profile(connector_id: int, profile: dict[str, Any]) -> OutboundCall:
    return outbound(
        call.SetChargingProfile(evse_id=connector_id, charging_profile={}),
        chargingProfile=profile,
    )


def charging_profile_id(profile: dict[str, Any]) -> Any:
    return profile.get("id")


def clear_charging_profile(profile_id: int | None) -> OutboundCall:
    return outbound(call.ClearChargingProfile(charging_profile_id=profile_id))


def variable_ref(key: str) -> dict[str, Any]:
    component, dot, variable = key.partition(".")
    if not dot or not component or not variable:
        raise InvalidInput(f"key {key!r}: name OCPP 2.0.1 variables as Component.Variable")
    return {"component": {"name": component}, "variable": {"name": variable}}


def _id_token(id_tag: str) -> dict[str, str]:
    return {"id_token": id_tag, "type": "ISO14443"}


def send_local_list(version: int, update_type: str, entries: list[LocalListEntry]) -> OutboundCall:
    return outbound(
        call.SendLocalList(
            version_number=version,
            update_type=update_type,
            # Left out when empty: the schemas want at least one entry if it is there.
            local_authorization_list=[_local_entry(e) for e in entries] or None,
        )
    )


def _local_entry(e: LocalListEntry) -> dict[str, Any]:
    if e.status is None:
        return {"id_token": _id_token(e.id_tag)}  # removed from the station's list
    info: dict[str, Any] = {"status": e.status}
    if e.expiry_date is not None:
        info["cache_expiry_date_time"] = e.expiry_date.isoformat()
    if e.parent_id_tag is not None:
        info["group_id_token"] = _id_token(e.parent_id_tag)
    return {"id_token": _id_token(e.id_tag), "id_token_info": info}


def get_local_list_version() -> OutboundCall:
    return outbound(call.GetLocalListVersion())


def local_list_version(response: dict[str, Any]) -> int:
    return int(response["versionNumber"])


def set_display_message(message: DisplayMessage) -> OutboundCall:
    return outbound(call.SetDisplayMessage(message=message_info(message)))


def get_display_messages(request_id: int) -> OutboundCall:
    return outbound(call.GetDisplayMessages(request_id=request_id))


def clear_display_message(message_id: int) -> OutboundCall:
    return outbound(call.ClearDisplayMessage(id=message_id))


def set_variable_monitoring(monitors: list[dict[str, Any]]) -> OutboundCall:
    """`monitors`: setMonitoringData items (snake_case: value, type, severity, transaction,
    component, variable, and id to replace one)."""
    return outbound(call.SetVariableMonitoring(set_monitoring_data=monitors))


def monitoring_results(response: dict[str, Any]) -> list[dict[str, Any]]:
    return response.get("setMonitoringResult") or []


def clear_variable_monitoring(monitor_ids: list[int]) -> OutboundCall:
    return outbound(call.ClearVariableMonitoring(id=monitor_ids))


def monitors_cleared(response: dict[str, Any]) -> list[int]:
    """The ids the station no longer holds (cleared, or it had none by that id)."""
    return [
        r["id"]
        for r in response.get("clearMonitoringResult") or []
        if r["status"] in ("Accepted", "NotFound")
    ]


def get_monitoring_report(request_id: int) -> OutboundCall:
    return outbound(call.GetMonitoringReport(request_id=request_id))
