"""Which host actor process holds a charge point's actor: a stable hash of its id; and what a
gateway's id says of where it runs (pure)."""

from __future__ import annotations

import hashlib

RAY_NAMESPACE = "sigecve"


def host_index(charge_point_id: str, host_count: int) -> int:
    """The same id lands on the same host in every process and every run (unlike `hash()`)."""
    digest = hashlib.blake2b(charge_point_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % host_count


def host_actor_name(index: int) -> str:
    return f"charge-point-host-{index}"


def gateway_id(pid: int, node_id: str, nonce: str) -> str:
    """A gateway replica's id: its process id (operators and the fault tests find the replica
    by it) and its Ray node's (hosts ask whether that node is still alive)."""
    return f"gateway-{pid}-{nonce}-{node_id}"


def gateway_node(gateway: str) -> str | None:
    """The Ray node id in a gateway's id, if it has one."""
    parts = gateway.split("-")
    return parts[3] if len(parts) == 4 and parts[0] == "gateway" else None
