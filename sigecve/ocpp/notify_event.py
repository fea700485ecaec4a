"""What a 2.0.1 / 2.1 NotifyEvent says of connectors (pure).

2.x reports a connector's state and its problems as events of components: the
`AvailabilityState` of a Connector or EVSE is its status, and `Problem` (true with a
`techCode`, false or cleared when it is over) is its error code, which 1.6 puts in
StatusNotification. SIGEC-VE numbers a 2.x station's EVSEs as connectors, 0 the station.
"""

from __future__ import annotations

from sigecve.domain import ConnectorProblem, ConnectorStatus
from sigecve.ocpp.components import CONNECTOR_COMPONENTS
from sigecve.ocpp.timestamps import parse_timestamp

STATUSES = frozenset({"Available", "Occupied", "Reserved", "Unavailable", "Faulted"})
NO_ERROR = "NoError"  # 1.6's word for an error that is over, kept for every version


def connector_updates(
    event_data: list[dict],
) -> tuple[list[ConnectorStatus], list[ConnectorProblem]]:
    """The connector statuses and problems in a NotifyEvent's `eventData` (camelCase);
    events of other components and variables are not about connectors."""
    statuses, problems = [], []
    for event in event_data:
        component, variable = event["component"], event["variable"]["name"]
        if component["name"] not in CONNECTOR_COMPONENTS:
            continue
        connector_id = (component.get("evse") or {}).get("id", 0)
        at = parse_timestamp(event["timestamp"])
        value = event.get("actualValue", "")
        if variable == "AvailabilityState" and value in STATUSES:
            statuses.append(ConnectorStatus(connector_id=connector_id, status=value, status_at=at))
        elif variable == "Problem":
            over = event.get("cleared") or value.lower() == "false"
            code = event.get("techCode")
            problems.append(
                ConnectorProblem(
                    connector_id=connector_id,
                    error_code=NO_ERROR if over else (code or "OtherError"),
                    info=event.get("techInfo"),
                    vendor_error_code=code,
                    at=at,
                )
            )
    return statuses, problems
