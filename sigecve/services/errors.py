"""Typed service errors; REST and MCP turn them into `{"error": {"code", "message"}}`."""

from __future__ import annotations

import psycopg


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


def as_service_error(exc: BaseException) -> ServiceError | None:
    """The service error a failure is to its caller, the same in REST and MCP; None for a
    fault of ours (a 500)."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, psycopg.errors.DataError):
        # Values the schema lets through but PostgreSQL cannot hold (NUL characters, numbers
        # out of a column's range): bad input, not a server fault.
        reason = exc.diag.message_primary or str(exc).splitlines()[0]
        return InvalidInput(f"a value cannot be stored: {reason}")
    if isinstance(exc, psycopg.OperationalError):
        # No connection within SIGECVE_DB_TIMEOUT_S, or it broke: said at once, so that
        # clients retry instead of hanging.
        return Unavailable("the database is unavailable just now; retry shortly")
    return None
