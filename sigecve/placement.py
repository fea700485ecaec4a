"""Which host actor process holds a charge point's actor: a stable hash of its id (pure)."""

from __future__ import annotations

import hashlib

RAY_NAMESPACE = "sigecve"


def host_index(charge_point_id: str, host_count: int) -> int:
    """The same id lands on the same host in every process and every run (unlike `hash()`)."""
    digest = hashlib.blake2b(charge_point_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % host_count


def host_actor_name(index: int) -> str:
    return f"charge-point-host-{index}"
