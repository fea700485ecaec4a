"""Serve applications: the OCPP WebSocket gateway and the operator REST API."""
