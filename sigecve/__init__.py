"""SIGEC-VE core: domain, OCPP handling, services and data layer. Knows nothing of Ray."""

__version__ = "0.1.0"
