"""OCPP handling per protocol version, on top of the `ocpp` package's schemas and routing."""
