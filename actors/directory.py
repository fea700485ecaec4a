"""Finding the host actor of a charge point from any process in the cluster."""

from __future__ import annotations

from typing import Any

import ray
from ray.exceptions import RayActorError

from sigecve.domain import CommandResult
from sigecve.placement import RAY_NAMESPACE, host_actor_name, host_index
from sigecve.services.errors import Unavailable


class HostDirectory:
    """Handles to the charge-point host actors, by the stable hash of the charge point id."""

    def __init__(self, host_count: int) -> None:
        self.hosts = [
            ray.get_actor(host_actor_name(i), namespace=RAY_NAMESPACE) for i in range(host_count)
        ]

    def host_for(self, charge_point_id: str) -> Any:
        return self.hosts[host_index(charge_point_id, len(self.hosts))]

    async def protocol_of(self, charge_point_id: str) -> str | None:
        try:
            return await self.host_for(charge_point_id).protocol_of.remote(charge_point_id)
        except RayActorError as e:
            raise Unavailable(
                f"the process holding {charge_point_id!r} is restarting; the charger is "
                "reconnecting: retry shortly"
            ) from e

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any], timeout_s: float | None
    ) -> CommandResult:
        host = self.host_for(charge_point_id)
        try:
            return await host.call.remote(charge_point_id, action, payload, timeout_s)
        except RayActorError as e:
            # The command may or may not have reached the charger: say so, do not guess.
            raise Unavailable(
                f"the process holding {charge_point_id!r} failed while the command was in "
                "flight; it is restarting and the charger reconnecting: check its state "
                "and retry"
            ) from e
