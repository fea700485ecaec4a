"""A simulated OCPP 2.0.1 charging station: the same profile and counters as the 1.6 one."""

from __future__ import annotations

import dataclasses
import uuid

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint as OcppChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

from sigecve.ocpp.timestamps import now_timestamp
from sigecve.simulator.charge_point import UNITS, OngoingSession, SimulatedCharger
from sigecve.simulator.device_model import SimulatedDeviceModel, SimulatedMonitor


class SimulatedChargePoint201(SimulatedCharger, OcppChargePoint):
    """Sends what a 2.0.1 station sends (TransactionEvent lifecycle) and answers commands."""

    model = "Simulator-2.0.1"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.device_model = SimulatedDeviceModel.standard(
            self.model, "1.0.0", self.profile.connectors
        )
        self.reservations: set[int] = set()
        self.local_list: dict[str, dict] = {}
        self.local_list_version = 0
        self.display: dict[int, dict] = {}  # message id -> message info, as set
        self.monitors: dict[int, SimulatedMonitor] = {}
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
        self,
        event_type: str,
        trigger: str,
        evse: int,
        tx_id: str,
        session: OngoingSession | None = None,
        **kw,
    ) -> call_result.TransactionEvent:
        """Sent once; with the session it belongs to, kept until answered and sent again
        after a reconnection (marked offline), its seqNo running on across connections."""
        info = {"transaction_id": tx_id}
        for key in ("charging_state", "stopped_reason"):
            if key in kw:
                info[key] = kw.pop(key)
        if session is not None:
            session.seq_no += 1
        payload = call.TransactionEvent(
            event_type=event_type,
            timestamp=now_timestamp(),
            trigger_reason=trigger,
            seq_no=session.seq_no if session is not None else self._next_seq(),
            transaction_info=info,
            evse={"id": evse, "connector_id": 1},
            **kw,
        )
        if session is None:
            return await self.send(payload)
        return await self.transaction_message(evse, payload)

    def replayed(self, payload):
        """Queued while the connection was down: the event says it happened offline."""
        if isinstance(payload, call.TransactionEvent):
            return dataclasses.replace(payload, offline=True)
        return payload

    def acknowledged(self, connector: int, payload, reply) -> None:
        if isinstance(payload, call.TransactionEvent) and payload.event_type == "Ended":
            session = self.memory.sessions.get(connector)
            if (
                session is not None
                and session.transaction_id == payload.transaction_info["transaction_id"]
            ):
                del self.memory.sessions[connector]

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

    async def session_started(self, evse: int, session: OngoingSession) -> None:
        """What the station sends once a transaction has started: nothing more on 2.0.1."""

    async def charging_session(self, evse: int) -> None:
        """A session, or the one this station had on `evse` when its connection was lost:
        that one goes on (same transaction, seqNo running on), as a real station's does."""
        session = self.memory.sessions.get(evse)
        if session is None:
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
            session = self.memory.sessions[evse] = self.new_session(token["id_token"])
            session.transaction_id = str(uuid.uuid4())
            session.counted = True
            self.counters.sessions_started += 1
            await self.transaction_event(
                "Started",
                "Authorized",
                evse,
                session.transaction_id,
                session,
                id_token=token,
                meter_value=self._meter_value(evse, None),
                charging_state="Charging",
            )
            await self.session_started(evse, session)
        elif session.ended:
            return  # its Ended is queued: sent again after the boot, before this
        tx_id = str(session.transaction_id)
        async for drawn_w in self.charging(evse, session):
            await self.transaction_event(
                "Updated",
                "MeterValuePeriodic",
                evse,
                tx_id,
                session,
                meter_value=self._meter_value(evse, drawn_w),
            )
        session.ended = True
        await self.transaction_event(
            "Ended",
            "StopAuthorized",
            evse,
            tx_id,
            session,
            id_token={"id_token": session.id_tag, "type": "ISO14443"},
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
        period: dict = {"start_period": 0, "limit": round(limit, 1)}
        if limit < 0:  # 2.1: a discharge setpoint in force
            period = {
                "start_period": 0,
                "limit": 0.0,
                "operation_mode": "CentralSetpoint",
                "setpoint": round(limit, 1),
                "discharge_limit": round(limit, 1),
            }
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": now_timestamp(),
                "charging_rate_unit": "W",
                "charging_schedule_period": [period],
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

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number: int, update_type: str, **kw):
        entries = kw.get("local_authorization_list") or []
        if update_type == "Differential" and version_number <= self.local_list_version:
            return call_result.SendLocalList(status="VersionMismatch")  # D01.FR.19
        if update_type == "Full":
            self.local_list = {}
        for e in entries:
            token = e["id_token"]["id_token"]
            if e.get("id_token_info"):
                self.local_list[token] = e["id_token_info"]
            else:
                self.local_list.pop(token, None)
        self.local_list_version = version_number
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_):
        return call_result.GetLocalListVersion(version_number=self.local_list_version)

    @on(Action.set_display_message)
    def on_set_display_message(self, message: dict, **_):
        if message["message"]["format"] == "HTML":  # a plain display (O01.FR.12)
            return call_result.SetDisplayMessage(status="NotSupportedMessageFormat")
        self.display[message["id"]] = message
        return call_result.SetDisplayMessage(status="Accepted")

    @on(Action.get_display_messages)
    def on_get_display_messages(self, request_id: int, **_):
        return call_result.GetDisplayMessages(status="Accepted" if self.display else "Unknown")

    @after(Action.get_display_messages)
    async def send_display_messages(self, request_id: int, **_):
        if self.display:
            await self.send(
                self._call.NotifyDisplayMessages(
                    request_id=request_id, message_info=list(self.display.values())
                )
            )

    @on(Action.clear_display_message)
    def on_clear_display_message(self, id: int, **_):
        known = self.display.pop(id, None) is not None
        return call_result.ClearDisplayMessage(status="Accepted" if known else "Unknown")

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

    # --- variable monitoring (N04 set, N05 report, N06 clear, N07 alert) ---------------------

    def _monitor_status(self, data: dict) -> str:
        component, variable = data["component"], data["variable"]
        if not self.device_model.knows_component(component["name"]):
            return "UnknownComponent"
        evse = (component.get("evse") or {}).get("id")
        found = self.device_model.find_at(component["name"], variable["name"], evse)
        if found is None:
            return "UnknownVariable"
        if not found.supports_monitoring:
            return "Rejected"
        if data["type"] not in ("UpperThreshold", "LowerThreshold", "Delta", "Periodic"):
            return "UnsupportedMonitorType"
        if data["type"] == "Periodic" and data["value"] <= 0:
            return "Rejected"
        same = (component, variable, data["type"], data["severity"])
        if any(
            (m.component, m.variable, m.type, m.severity) == same and m.id != data.get("id")
            for m in self.monitors.values()
        ):
            return "Duplicate"
        return "Accepted"

    @on(Action.set_variable_monitoring)
    def on_set_variable_monitoring(self, set_monitoring_data: list, **_):
        results = []
        for data in set_monitoring_data:
            status = self._monitor_status(data)
            result = {
                "status": status,
                "type": data["type"],
                "severity": data["severity"],
                "component": data["component"],
                "variable": data["variable"],
            }
            if status == "Accepted":
                monitor_id = data.get("id") or max(self.monitors, default=0) + 1
                self.monitors[monitor_id] = SimulatedMonitor(
                    monitor_id,
                    data["component"],
                    data["variable"],
                    data["type"],
                    data["value"],
                    data["severity"],
                    data.get("transaction", False),
                )
                result["id"] = monitor_id
            results.append(result)
        return self._call_result.SetVariableMonitoring(set_monitoring_result=results)

    @on(Action.clear_variable_monitoring)
    def on_clear_variable_monitoring(self, id: list, **_):
        results = [
            {"id": i, "status": "Accepted" if self.monitors.pop(i, None) else "NotFound"}
            for i in id
        ]
        return self._call_result.ClearVariableMonitoring(clear_monitoring_result=results)

    @on(Action.get_monitoring_report)
    def on_get_monitoring_report(self, request_id: int, **_):
        status = "Accepted" if self.monitors else "EmptyResultSet"
        return self._call_result.GetMonitoringReport(status=status)

    @after(Action.get_monitoring_report)
    async def send_monitoring_report(self, request_id: int, **_):
        if not self.monitors:
            return
        v21 = self._ocpp_version == "2.1"
        monitor = [
            {
                "component": m.component,
                "variable": m.variable,
                "variable_monitoring": [
                    {
                        "id": m.id,
                        "transaction": m.transaction,
                        "value": m.value,
                        "type": m.type,
                        "severity": m.severity,
                        # 2.1 says which kind of monitor it is; 2.0.1 has no such field.
                        **({"event_notification_type": "CustomMonitor"} if v21 else {}),
                    }
                ],
            }
            for m in self.monitors.values()
        ]
        await self.send(
            self._call.NotifyMonitoringReport(
                request_id=request_id,
                generated_at=now_timestamp(),
                seq_no=0,
                monitor=monitor,
            )
        )

    async def observe(self, component: str, variable: str, evse: int | None, reading: float):
        """A new reading of a variable: each threshold monitor on it that it crosses, or
        stops crossing, is reported (NotifyEvent Alerting; `cleared` when back)."""
        events = []
        for m in self.monitors.values():
            if (m.component["name"], m.variable["name"]) != (component, variable) or (
                (m.component.get("evse") or {}).get("id") != evse
            ):
                continue
            crossed = m.crossed(reading)
            if crossed == m.alerting:
                continue
            m.alerting = crossed
            event = {
                "event_id": self.rng.randint(1, 2**31 - 1),
                "timestamp": now_timestamp(),
                "trigger": "Alerting",
                "actual_value": f"{reading:g}",
                "event_notification_type": "CustomMonitor",
                "variable_monitoring_id": m.id,
                "component": m.component,
                "variable": m.variable,
            }
            if not crossed:
                event["cleared"] = True
            events.append(event)
        if events:
            await self.send(
                self._call.NotifyEvent(
                    generated_at=now_timestamp(), seq_no=self._next_seq(), event_data=events
                )
            )
