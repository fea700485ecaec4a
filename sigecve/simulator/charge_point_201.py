"""A simulated OCPP 2.0.1 charging station: the same profile and counters as the 1.6 one."""

from __future__ import annotations

import uuid

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as OcppChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from sigecve.ocpp.timestamps import now_timestamp
from sigecve.simulator.charge_point import UNITS, SimulatedCharger
from sigecve.simulator.device_model import SimulatedDeviceModel


class SimulatedChargePoint201(SimulatedCharger, OcppChargePoint):
    """Sends what a 2.0.1 station sends (TransactionEvent lifecycle) and answers commands."""

    model = "Simulator-2.0.1"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.device_model = SimulatedDeviceModel.standard(
            self.model, "1.0.0", self.profile.connectors
        )
        self.reservations: set[int] = set()
        self._seq = 0

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def boot(self) -> int:
        interval = await self.boot_until_accepted(
            call.BootNotification(
                charging_station={
                    "model": self.model,
                    "vendor_name": "SIGEC-VE",
                    "serial_number": f"SIM-{self.id}",
                    "firmware_version": "1.0.0",
                },
                reason="PowerUp",
            )
        )
        for evse in range(1, self.profile.connectors + 1):
            await self.status(evse, "Available")
        return interval

    async def status(self, evse: int, status: str) -> None:
        if self.faulted() and status != "Faulted":
            return  # a faulted station stays so (sessions cut short report nothing else)
        await self.send(
            call.StatusNotification(
                timestamp=now_timestamp(), connector_status=status, evse_id=evse, connector_id=1
            )
        )

    def _meter_value(self, evse: int, power_w: float | None) -> list[dict]:
        sampled = [
            {
                "value": round(self.energy_wh[evse]),
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        ]
        if power_w is not None:
            sampled.append(
                {
                    "value": round(power_w),
                    "measurand": "Power.Active.Import",
                    "unit_of_measure": {"unit": "W"},
                }
            )
            # 2.0.1 has no Temperature measurand (temperatures belong to the device model).
            sampled += [
                {
                    "value": value,
                    "measurand": measurand,
                    "unit_of_measure": {"unit": UNITS[measurand]},
                }
                for measurand, value in self.readings(power_w).items()
                if measurand != "Temperature"
            ]
        return [{"timestamp": now_timestamp(), "sampled_value": sampled}]

    async def transaction_event(
        self, event_type: str, trigger: str, evse: int, tx_id: str, **kw
    ) -> call_result.TransactionEvent:
        info = {"transaction_id": tx_id}
        for key in ("charging_state", "stopped_reason"):
            if key in kw:
                info[key] = kw.pop(key)
        return await self.send(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=now_timestamp(),
                trigger_reason=trigger,
                seq_no=self._next_seq(),
                transaction_info=info,
                evse={"id": evse, "connector_id": 1},
                **kw,
            )
        )

    async def report_fault(self, code: str) -> None:
        await self.status(1, "Faulted")
        await self.report_error(1, code)

    async def report_error(self, evse: int, code: str) -> None:
        """2.0.1 reports problems as events of a component (here the connector)."""
        await self.send(
            call.NotifyEvent(
                generated_at=now_timestamp(),
                seq_no=0,
                event_data=[
                    {
                        "event_id": self.rng.randint(1, 2**31 - 1),
                        "timestamp": now_timestamp(),
                        "trigger": "Alerting",
                        "actual_value": code,
                        "tech_code": code,
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "Connector", "evse": {"id": evse, "connector_id": 1}},
                        "variable": {"name": "Problem"},
                    }
                ],
            )
        )

    async def misread_start(self, evse: int, token: dict) -> None:
        """A station that starts on the token it read and is told it is invalid."""
        tx_id = str(uuid.uuid4())
        await self.transaction_event(
            "Started",
            "Authorized",
            evse,
            tx_id,
            id_token=token,
            meter_value=self._meter_value(evse, None),
            charging_state="EVConnected",
        )
        self.counters.refused_tags += 1
        await self.transaction_event(
            "Ended",
            "Deauthorized",
            evse,
            tx_id,
            meter_value=self._meter_value(evse, None),
            stopped_reason="DeAuthorized",
        )

    async def charging_session(self, evse: int) -> None:
        p = self.profile
        token = {"id_token": self.rng.choice(p.id_tags), "type": "ISO14443"}
        if self.card_misread():
            await self.misread_start(evse, {**token, "id_token": token["id_token"] + "?"})
            return
        auth = await self.send(call.Authorize(id_token=token))
        if auth is None or auth.id_token_info["status"] != "Accepted":
            self.counters.refused_tags += 1
            return
        await self.status(evse, "Occupied")
        tx_id = str(uuid.uuid4())
        await self.transaction_event(
            "Started",
            "Authorized",
            evse,
            tx_id,
            id_token=token,
            meter_value=self._meter_value(evse, None),
            charging_state="Charging",
        )
        self.counters.sessions_started += 1
        async for drawn_w in self.charging(evse):
            await self.transaction_event(
                "Updated",
                "MeterValuePeriodic",
                evse,
                tx_id,
                meter_value=self._meter_value(evse, drawn_w),
            )
        await self.transaction_event(
            "Ended",
            "StopAuthorized",
            evse,
            tx_id,
            id_token=token,
            meter_value=self._meter_value(evse, 0),
            stopped_reason="Local",
        )
        await self.status(evse, "Available")
        self.counters.sessions_stopped += 1

    # --- what the CSMS initiates ----------------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str, **_):
        return call_result.Reset(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, **_):
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token: dict, remote_start_id: int, **_):
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_):
        return call_result.RequestStopTransaction(status="Accepted")

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_):
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **_):
        if requested_message == "BootNotification":
            if self.booted:  # F06.FR.17: a station already Accepted refuses
                return call_result.TriggerMessage(status="Rejected")
            self.boot_requested.set()  # its Pending boot loop sends it now
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.clear_cache)
    def on_clear_cache(self, **_):
        return call_result.ClearCache(status="Accepted")

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict, **_):
        return call_result.UpdateFirmware(status="Accepted")

    @on(Action.reserve_now)
    def on_reserve_now(self, id: int, expiry_date_time: str, id_token: dict, **_):
        self.reservations.add(id)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_):
        known = reservation_id in self.reservations
        self.reservations.discard(reservation_id)
        return call_result.CancelReservation(status="Accepted" if known else "Rejected")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **_):
        self.apply_profile(evse_id, {"charging_profile": charging_profile})
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_):
        self.limits_w.clear()
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, duration: int, evse_id: int, **_):
        limit = self.composite_limit_w(evse_id)
        if limit is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": now_timestamp(),
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": round(limit, 1)}],
            },
        )

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list, **_):
        results = []
        for item in get_variable_data:
            component, name = item["component"]["name"], item["variable"]["name"]
            found = self.device_model.find(component, name)
            if found is None:
                known = self.device_model.knows_component(component)
                status = "UnknownVariable" if known else "UnknownComponent"
            else:
                status = "Rejected" if found.mutability == "WriteOnly" else "Accepted"
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_value": found.value} if status == "Accepted" else {}),
                }
            )
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list, **_):
        results = []
        for item in set_variable_data:
            component, name = item["component"]["name"], item["variable"]["name"]
            found = self.device_model.find(component, name)
            if found is None:
                known = self.device_model.knows_component(component)
                status = "UnknownVariable" if known else "UnknownComponent"
            elif found.refuses(item["attribute_value"]):
                status = "Rejected"
            else:
                found.value, status = item["attribute_value"], "Accepted"
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_):
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    async def send_base_report(self, request_id: int, report_base: str, **_):
        """The report in parts, as a station sends it after accepting (B07)."""
        parts = self.device_model.report_parts()
        for seq_no, part in enumerate(parts):
            await self.send(
                self._call.NotifyReport(
                    request_id=request_id,
                    generated_at=now_timestamp(),
                    seq_no=seq_no,
                    tbc=seq_no < len(parts) - 1,
                    report_data=part,
                )
            )
