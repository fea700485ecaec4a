"""Variable monitoring as operators run it: set and clear a 2.x station's monitors, read the
ones it holds, and turn what its events report into alerts (`sigecve/variable_monitoring.py`
decides; here the checks, the messages and the storing)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.domain import CommandResult, Flag
from sigecve.services.errors import InvalidInput, NotFound
from sigecve.services.remote_commands import Commander, new_request_id, raise_on_call_error
from sigecve.variable_monitoring import (
    MonitorId,
    MonitorType,
    MonitorValue,
    Severity,
    VariableMonitor,
    WatchedVariable,
    clears_alert,
    monitor_problem,
    monitoring_events,
    monitors_accepted,
    monitors_reported,
    raises_alert,
)


class MonitorRequest(WatchedVariable):
    type: MonitorType
    value: MonitorValue
    severity: Severity
    transaction: Flag = Field(default=False, description="only while a transaction runs")
    replaces: MonitorId | None = Field(
        default=None, description="the id of a monitor of the station's this one replaces"
    )


class MonitorSet(BaseModel):
    monitor: VariableMonitor | None = Field(description="as the station holds it; null: refused")
    result: CommandResult


class VariableMonitors(BaseModel):
    charge_point_id: str
    items: list[VariableMonitor]


class MonitoringReportRequest(BaseModel):
    request_id: int
    result: CommandResult


async def monitors_of(repos: Repositories, charge_point_id: str) -> VariableMonitors:
    """The monitors the station holds as far as SIGEC-VE knows (set here, or reported)."""
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    items = await repos.variable_monitors.of(charge_point_id)
    return VariableMonitors(charge_point_id=charge_point_id, items=items)


async def set_monitor(
    repos: Repositories, commander: Commander, charge_point_id: str, req: MonitorRequest
) -> MonitorSet:
    """SetVariableMonitoring, checked first against the station's version and its stored
    device model (a variable it reported not having, or not monitorable: 422); the monitor
    is kept as the station accepted it."""
    messages = await commander.messages(charge_point_id)
    data = {
        **req.ocpp(),
        "value": req.value,
        "type": req.type,
        "severity": req.severity,
        "transaction": req.transaction,
    }
    if req.replaces is not None:
        data["id"] = req.replaces
    outbound = messages.set_variable_monitoring([data])  # 409 for a 1.6 charger
    protocol = await commander.protocol(charge_point_id)
    if (problem := monitor_problem(req.type, req.value, protocol)) is not None:
        raise InvalidInput(problem)
    await _check_monitorable(repos, charge_point_id, req)
    result = await commander.send(charge_point_id, outbound)
    raise_on_call_error(result)
    results = messages.monitoring_results(result.response)
    accepted = monitors_accepted(outbound.payload["setMonitoringData"], results)
    await repos.variable_monitors.store(charge_point_id, accepted)
    if results:  # the station's word on this monitor (Accepted, UnknownVariable, ...)
        result = result.model_copy(update={"status": results[0]["status"]})
    return MonitorSet(monitor=accepted[0] if accepted else None, result=result)


async def _check_monitorable(
    repos: Repositories, charge_point_id: str, req: MonitorRequest
) -> None:
    """A station that reported its device model said which variables it has and which it can
    monitor: asking for another is refused here. One not reported yet: the station decides."""
    reported = await repos.device_model.variables_of(charge_point_id)
    if not reported:
        return
    fields = ("component", "component_instance", "evse_id", "connector_id", "variable",
              "variable_instance")  # fmt: skip
    wanted = tuple(getattr(req, f) for f in fields)
    same = [v for v in reported if tuple(getattr(v, f) for f in fields) == wanted]
    if not same:
        raise InvalidInput(f"{req.key}: the station did not report this variable")
    characteristics = same[0].characteristics
    if characteristics is not None and characteristics.supports_monitoring is False:
        raise InvalidInput(f"{req.key}: the station reported it cannot monitor this variable")


async def clear_monitor(
    repos: Repositories, commander: Commander, charge_point_id: str, monitor_id: int
) -> CommandResult:
    """ClearVariableMonitoring; the monitor is forgotten once the station no longer holds it
    (cleared, or it had none by that id)."""
    messages = await commander.messages(charge_point_id)
    result = await commander.send(charge_point_id, messages.clear_variable_monitoring([monitor_id]))
    raise_on_call_error(result)
    await repos.variable_monitors.remove(
        charge_point_id, messages.monitors_cleared(result.response)
    )
    statuses = [r["status"] for r in result.response.get("clearMonitoringResult") or []]
    return result.model_copy(update={"status": statuses[0] if statuses else result.status})


async def request_monitoring_report(
    commander: Commander, charge_point_id: str
) -> MonitoringReportRequest:
    """GetMonitoringReport: the station's monitors come in NotifyMonitoringReport and are kept."""
    messages = await commander.messages(charge_point_id)
    request_id = new_request_id()
    result = await commander.send(charge_point_id, messages.get_monitoring_report(request_id))
    raise_on_call_error(result)
    return MonitoringReportRequest(request_id=request_id, result=result)


async def record_monitoring_report(repos: Repositories, charge_point_id: str, part: dict) -> None:
    """One NotifyMonitoringReport part (camelCase): its monitors kept."""
    await repos.variable_monitors.store(
        charge_point_id, monitors_reported(part.get("monitor") or [])
    )


async def record_events(repos: Repositories, charge_point_id: str, event_data: list[dict]) -> None:
    """A NotifyEvent's events that raise or clear monitoring alerts, applied in order."""
    monitor_ids = [e["variableMonitoringId"] for e in event_data if "variableMonitoringId" in e]
    severities = await repos.variable_monitors.severities(charge_point_id, monitor_ids)
    changes = [
        (event, raises_alert(event))
        for event in monitoring_events(event_data, severities)
        if raises_alert(event) or clears_alert(event)
    ]
    if changes:
        await repos.alerts.monitoring_events(charge_point_id, changes)
