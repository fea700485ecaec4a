"""What the REST API and the MCP server share: the service context and bearer tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sigecve.assistant import AssistantConfig
from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.services.cluster import ClusterView
from sigecve.services.commands import ChargePointDirectory
from sigecve.services.live_events import LiveFeed
from sigecve.services.remote_commands import Commander
from sigecve.services.sites import SchedulerDirectory
from sigecve.settings import Settings


@dataclass
class ApiContext:
    """What the interfaces need: repositories, the charge point directory, schedulers, probes."""

    repos: Repositories
    directory: ChargePointDirectory
    schedulers: SchedulerDirectory
    health_probes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    live: LiveFeed | None = None
    assistant: AssistantConfig | None = None
    cluster: Callable[[], Awaitable[ClusterView]] | None = None

    @property
    def commander(self) -> Commander:
        return Commander(self.repos, self.directory)


async def open_api_context(settings: Settings, database_url: str) -> ApiContext:
    """The context a Serve replica of the REST API or the MCP server works with."""
    from actors.directory import HostDirectory
    from actors.grid_scheduler import SchedulerDirectory

    pool = await open_pool(
        database_url, max_size=settings.db_pool_max, timeout_s=settings.db_timeout_s
    )
    return ApiContext(
        Repositories(pool),
        HostDirectory(settings.charge_point_hosts),
        SchedulerDirectory(settings, database_url),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
