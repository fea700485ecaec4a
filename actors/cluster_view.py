"""Gathering the cluster view (sigecve.services.cluster) from Ray and the host actors."""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from sigecve.services.cluster import ClusterView, cluster_view

STATS_TIMEOUT_S = 2.0


def _live_actors() -> list[tuple[str, str]]:
    # The GCS's own table: the state API would need the dashboard, which nodes here lack.
    from ray._private import state

    return [
        (a["Address"]["NodeID"], a["ActorClassName"])
        for a in state.actors(actor_state_name="ALIVE").values()
    ]


async def _stats(host: Any) -> dict | None:
    try:
        return await asyncio.wait_for(host.stats.remote(), STATS_TIMEOUT_S)
    except Exception:
        return None


async def gather_cluster_view(hosts: list[Any]) -> ClusterView:
    nodes, actors, stats = await asyncio.gather(
        asyncio.to_thread(ray.nodes),
        asyncio.to_thread(_live_actors),
        asyncio.gather(*(_stats(h) for h in hosts)),
    )
    return cluster_view(nodes, actors, stats)
