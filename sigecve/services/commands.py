"""CSMS-initiated commands: one service call, whatever asks for it (REST, MCP, CLI)."""

from __future__ import annotations

from typing import Any, Protocol

from sigecve.db.repositories import Repositories
from sigecve.domain import Command, CommandResult
from sigecve.services.errors import NotFound


class ChargePointDirectory(Protocol):
    """Reaches a charge point's actor wherever it is hosted."""

    async def protocol_of(self, charge_point_id: str) -> str | None:
        """The OCPP version of the charger's live session; None if it is not connected."""
        ...

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any], timeout_s: float | None
    ) -> CommandResult: ...


async def send_command(
    repos: Repositories,
    directory: ChargePointDirectory,
    charge_point_id: str,
    command: Command,
    timeout_s: float | None = None,
) -> CommandResult:
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    return await directory.call(charge_point_id, command.action, command.payload, timeout_s)
