"""The chargers a gateway is admitting, and whether it takes one more (pure: the caller
passes the time).

A count alone does not protect an overloaded cluster: when admissions slow down, a few
hundred waiting chargers wait past their handshake timeout, give up and come back, and the
cluster spends its time admitting chargers that are gone. So a charger is also refused at
once while the oldest admission in progress has waited longer than a bound well inside a
charger's timeout: how many get in then follows what the cluster can serve. The bound is
per host actor, so one being restarted does not hold up the chargers of the others.

An admission lasts until the charger's first answer (its BootNotification's), since a
cluster can open WebSockets faster than it boots them. One older than twice the bound is
no longer counted: its charger has given up, or is silent (it must not hold the door shut).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConnectQueue:
    """At most `max_pending` admissions at once, and none begun through a host whose oldest
    admission in progress has waited `max_wait_s` or more."""

    max_pending: int
    max_wait_s: float
    _since: dict[str, tuple[object, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._since)

    def full(self, host: object, now: float) -> bool:
        stale = [k for k, (_, at) in self._since.items() if now - at >= 2 * self.max_wait_s]
        for key in stale:
            del self._since[key]
        if len(self._since) >= self.max_pending:
            return True
        waits = [now - at for h, at in self._since.values() if h == host]
        return bool(waits) and max(waits) >= self.max_wait_s

    def enter(self, key: str, host: object, now: float) -> None:
        self._since[key] = (host, now)

    def leave(self, key: str) -> None:
        self._since.pop(key, None)
