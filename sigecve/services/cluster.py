"""The cluster as an operator sees it: each Ray node, the actors on it, and the charge points
it serves (hosted by its actors, and entered through its ingress). Built from what Ray and
the charge point hosts report (pure), for `GET /api/v1/cluster` and `sigecve lab status`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel


class ClusterNode(BaseModel):
    node_id: str
    ip: str
    alive: bool
    head: bool
    # Live actors by class (ChargePointHost, FailureScorer, Serve's replicas ...).
    actors: dict[str, int]
    # Charge points whose sessions the node's host actors hold.
    charge_points_hosted: int
    # Charge points whose WebSocket entered through the node's ingress (its Serve proxy).
    charge_points_entered: int


class ClusterView(BaseModel):
    nodes: list[ClusterNode]
    charge_points_connected: int
    # Host actors that did not answer (being restarted on another node, say).
    hosts_unanswered: int


def cluster_view(
    ray_nodes: Iterable[Mapping[str, Any]],
    actors: Iterable[tuple[str, str]],
    host_stats: Iterable[Mapping[str, Any] | None],
) -> ClusterView:
    """`ray_nodes` as `ray.nodes()` gives them; `actors` (node id, class name) of the live
    ones; `host_stats` each host actor's `stats()`, None if it did not answer."""
    per_node: dict[str, Counter[str]] = {}
    for node_id, class_name in actors:
        per_node.setdefault(node_id, Counter())[class_name] += 1
    hosted: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    unanswered = connected = 0
    for stats in host_stats:
        if stats is None:
            unanswered += 1
            continue
        hosted[stats["node_id"]] += stats["connected"]
        connected += stats["connected"]
        entered.update(stats.get("entered", {}))
    nodes = [
        ClusterNode(
            node_id=n["NodeID"],
            ip=n["NodeManagerAddress"],
            alive=bool(n["Alive"]),
            head="node:__internal_head__" in (n.get("Resources") or {}),
            actors=dict(sorted(per_node.get(n["NodeID"], Counter()).items())),
            charge_points_hosted=hosted[n["NodeID"]],
            # Entered by IP: a gateway knows its node's address.
            charge_points_entered=entered[n["NodeManagerAddress"]] if n["Alive"] else 0,
        )
        for n in ray_nodes
    ]
    # Dead nodes stay in Ray's list: the live ones first, the head first among them.
    nodes.sort(key=lambda n: (not n.alive, not n.head, n.ip))
    return ClusterView(nodes=nodes, charge_points_connected=connected, hosts_unanswered=unanswered)
