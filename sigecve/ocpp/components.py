"""The 2.x components and variables that say what 1.6 says of connectors (no I/O)."""

# SIGEC-VE numbers a 2.x station's EVSEs as connectors, 0 the station.
CONNECTOR_COMPONENTS = frozenset({"Connector", "EVSE", "ChargingStation"})
# A connector's status and its problem (1.6 StatusNotification's status and error code).
CONNECTOR_VARIABLES = frozenset({"AvailabilityState", "Problem"})
