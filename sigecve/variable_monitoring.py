"""Variable monitoring: the monitors a 2.x station holds and the alerts its events raise (pure).

A monitor watches one variable of one component (a threshold, a delta, a period) with a
severity from 0 (Danger) to 9 (Debug). The station reports what its monitors see, and its
hard-wired problems, in NotifyEvent: an `Alerting` event that is not `cleared` raises an
alert on the charge point (one open alert per component and variable: a repeat refreshes
it), a `cleared` one clears it. Delta and Periodic events are readings, not problems, and so
are events of severity 6 (Warning) to 9 (Debug): they are kept with the station's messages
only. A connector's state and problems are its status and error code instead. Everything
here reads payloads as stations send them (camelCase).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from sigecve.device_model import component_fields
from sigecve.ocpp.components import CONNECTOR_COMPONENTS, CONNECTOR_VARIABLES
from sigecve.ocpp.timestamps import parse_timestamp

MonitorType = Literal[
    "UpperThreshold",
    "LowerThreshold",
    "Delta",
    "Periodic",
    "PeriodicClockAligned",
    "TargetDelta",
    "TargetDeltaRelative",
]
# 2.1 added these two; a 2.0.1 station does not know them.
MONITOR_TYPES_21 = frozenset({"TargetDelta", "TargetDeltaRelative"})
# OCPP's severities 0-5 (Danger ... Alert) are problems; 6-9 (Warning ... Debug) are not.
ALERT_SEVERITY_MAX = 5


# The bounds OCPP's schemas give names and numbers (REST and MCP take the same).
Name = Annotated[str, Field(min_length=1, max_length=50)]
Instance = Annotated[str, Field(max_length=50)]
EvseNumber = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)]
Severity = Annotated[
    int,
    Strict(),
    Field(
        ge=0,
        le=9,
        description="0 Danger, 1 Hardware Failure, 2 System Failure, 3 Critical, 4 Error, "
        "5 Alert (0-5 raise alerts), 6 Warning, 7 Notice, 8 Informational, 9 Debug",
    ),
]
MAX_MONITOR_ID = 2**31 - 1
MonitorId = Annotated[int, Strict(), Field(ge=0, le=MAX_MONITOR_ID)]
MonitorValue = Annotated[
    float,
    Strict(),
    Field(
        allow_inf_nan=False,
        description="the threshold (UpperThreshold, LowerThreshold), the change (Delta, "
        "TargetDelta, TargetDeltaRelative) or seconds (Periodic, PeriodicClockAligned)",
    ),
]


class WatchedVariable(BaseModel):
    """A variable of a component, as OCPP names it."""

    component: Name
    component_instance: Instance = ""
    evse_id: EvseNumber = Field(default=0, description="0: the station itself")
    connector_id: EvseNumber = 0
    variable: Name
    variable_instance: Instance = ""

    @property
    def key(self) -> str:
        """One string per component and variable: what an open alert is unique by."""
        component = self.component + (
            f"[{self.component_instance}]" if self.component_instance else ""
        )
        variable = self.variable + (f"[{self.variable_instance}]" if self.variable_instance else "")
        where = f"@{self.evse_id}.{self.connector_id}" if self.evse_id or self.connector_id else ""
        return f"{component}{where}.{variable}"

    def ocpp(self) -> dict:
        """The component and variable objects of a 2.x payload (snake_case, for `ocpp`)."""
        component: dict = {"name": self.component}
        if self.component_instance:
            component["instance"] = self.component_instance
        if self.evse_id:
            component["evse"] = {"id": self.evse_id}
            if self.connector_id:
                component["evse"]["connector_id"] = self.connector_id
        variable: dict = {"name": self.variable}
        if self.variable_instance:
            variable["instance"] = self.variable_instance
        return {"component": component, "variable": variable}


class VariableMonitor(WatchedVariable):
    """A monitor the station holds, set here or reported by it."""

    id: int = Field(description="the station's id for it")
    type: MonitorType
    value: MonitorValue
    severity: Severity
    transaction: bool = Field(default=False, description="only while a transaction runs")
    origin: Literal["set", "report"] = Field(
        default="set", description="set: accepted from SetVariableMonitoring; report: reported"
    )
    updated_at: datetime | None = None


class MonitoringEvent(WatchedVariable):
    """What a station's NotifyEvent said of one variable."""

    event_id: int
    at: datetime
    trigger: str = Field(description="Alerting, Delta or Periodic")
    actual_value: str
    cleared: bool = False
    severity: int | None = Field(default=None, description="the monitor's, when it is known")
    monitor_id: int | None = None
    notification_type: str | None = Field(
        default=None,
        description="HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor or "
        "CustomMonitor",
    )
    tech_code: str | None = None
    tech_info: str | None = None
    cause: int | None = Field(default=None, description="the event that caused this one")


def _watched(component: dict, variable: dict) -> dict:
    return {
        **component_fields(component),
        "variable": variable["name"],
        "variable_instance": variable.get("instance") or "",
    }


def monitors_accepted(sent: list[dict], results: Iterable[dict]) -> list[VariableMonitor]:
    """The monitors a SetVariableMonitoring answer says the station now holds: each Accepted
    result (which carries the id the station gave it) with the value asked for in `sent`
    (the request's `setMonitoringData`), matched by component, variable, type and severity."""
    asked = {_monitor_key(m): m for m in sent}
    out = []
    for r in results:
        request = asked.get(_monitor_key(r))
        if r["status"] != "Accepted" or r.get("id") is None or request is None:
            continue
        out.append(
            VariableMonitor(
                **_watched(r["component"], r["variable"]),
                id=r["id"],
                type=r["type"],
                value=request["value"],
                severity=r["severity"],
                transaction=request.get("transaction", False),
                origin="set",
            )
        )
    return out


def _monitor_key(m: dict) -> tuple:
    return (
        WatchedVariable(**_watched(m["component"], m["variable"])).key,
        m["type"],
        m["severity"],
    )


def monitors_reported(monitors: Iterable[dict]) -> list[VariableMonitor]:
    """The monitors of a NotifyMonitoringReport part's `monitor` list."""
    return [
        VariableMonitor(
            **_watched(m["component"], m["variable"]),
            id=vm["id"],
            type=vm["type"],
            value=vm["value"],
            severity=vm["severity"],
            transaction=vm.get("transaction", False),
            origin="report",
        )
        for m in monitors
        for vm in m.get("variableMonitoring") or []
    ]


def monitoring_events(
    event_data: Iterable[dict], severities: dict[int, int]
) -> list[MonitoringEvent]:
    """A NotifyEvent's `eventData` read; a monitor's severity from `severities` (monitor id
    -> severity, as stored) unless the event names its own (2.1)."""
    out = []
    for e in event_data:
        monitor_id = e.get("variableMonitoringId")
        severity = e.get("severity")
        if severity is None and monitor_id is not None:
            severity = severities.get(monitor_id)
        out.append(
            MonitoringEvent(
                **_watched(e["component"], e["variable"]),
                event_id=e["eventId"],
                at=parse_timestamp(e["timestamp"]),
                trigger=e["trigger"],
                actual_value=e.get("actualValue", ""),
                cleared=bool(e.get("cleared")),
                severity=severity,
                monitor_id=monitor_id,
                notification_type=e.get("eventNotificationType"),
                tech_code=e.get("techCode"),
                tech_info=e.get("techInfo"),
                cause=e.get("cause"),
            )
        )
    return out


def is_connector_state(event: MonitoringEvent) -> bool:
    """A connector's or EVSE's AvailabilityState or Problem: its status and error code (as
    1.6's StatusNotification), read by `sigecve/ocpp/notify_event.py`, not an alert."""
    return event.component in CONNECTOR_COMPONENTS and event.variable in CONNECTOR_VARIABLES


def raises_alert(event: MonitoringEvent) -> bool:
    """An Alerting event not cleared, of a problem's severity (or of none known: a
    hard-wired notification names none in 2.0.1)."""
    return (
        event.trigger == "Alerting"
        and not event.cleared
        and not is_connector_state(event)
        and (event.severity is None or event.severity <= ALERT_SEVERITY_MAX)
    )


def clears_alert(event: MonitoringEvent) -> bool:
    return event.cleared and not is_connector_state(event)


def monitor_problem(monitor_type: str, value: float, protocol: str) -> str | None:
    """Why a monitor cannot be asked of a station, or None (the station has the last word)."""
    if monitor_type in MONITOR_TYPES_21 and protocol != "ocpp2.1":
        return f"type {monitor_type}: OCPP 2.1 only, and this station speaks {protocol}"
    if monitor_type in ("Periodic", "PeriodicClockAligned") and value <= 0:
        return f"value: the period of a {monitor_type} monitor is a number of seconds above 0"
    if monitor_type in ("Delta", "TargetDelta", "TargetDeltaRelative") and value < 0:
        return f"value: a {monitor_type} monitor's delta is not negative"
    return None
