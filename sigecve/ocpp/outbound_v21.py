"""The commands the CSMS sends an OCPP 2.1 charging station (pure). 2.1 keeps every request
SIGEC-VE sends as 2.0.1 has it (its schemas only add optional fields and widen enums), so the
builders are 2.0.1's; `tests/test_outbound.py` checks each against the 2.1 schemas."""

from __future__ import annotations

from sigecve.ocpp.outbound_v201 import (
    cancel_reservation,
    change_availability,
    change_configuration,
    charging_profile_id,
    clear_cache,
    clear_charging_profile,
    configuration_items,
    configuration_status,
    device_model_report,
    get_configuration,
    remote_start,
    remote_stop,
    reserve,
    reset,
    set_charging_profile,
    set_password,
    trigger,
    unlock,
    update_firmware,
    variable_ref,
    variables_changed,
    variables_read,
)

PROTOCOL = "ocpp2.1"

__all__ = [
    "PROTOCOL",
    "cancel_reservation",
    "change_availability",
    "change_configuration",
    "charging_profile_id",
    "clear_cache",
    "clear_charging_profile",
    "configuration_items",
    "configuration_status",
    "device_model_report",
    "get_configuration",
    "remote_start",
    "remote_stop",
    "reserve",
    "reset",
    "set_charging_profile",
    "set_password",
    "trigger",
    "unlock",
    "update_firmware",
    "variable_ref",
    "variables_changed",
    "variables_read",
]
