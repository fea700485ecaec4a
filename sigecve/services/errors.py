"""Typed service errors; REST and MCP turn them into `{"error": {"code", "message"}}`."""

from __future__ import annotations


class ServiceError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404


class Conflict(ServiceError):
    code = "conflict"
    http_status = 409


class InvalidInput(ServiceError):
    code = "invalid_input"
    http_status = 422


class NotConnected(ServiceError):
    code = "not_connected"
    http_status = 409


class NotConfigured(ServiceError):
    """A feature this installation has not been set up for (the assistant without an API
    key): the caller's to know, not a server fault, so a 4xx monitors do not page on."""

    code = "not_configured"
    http_status = 409


class CommandTimeout(ServiceError):
    code = "timeout"
    http_status = 504


class Unavailable(ServiceError):
    code = "unavailable"
    http_status = 503
