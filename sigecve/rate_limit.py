"""A token bucket per caller (pure: the caller passes the time)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    """`rate_per_s` requests per second per key, in bursts of up to `burst`."""

    rate_per_s: float
    burst: float
    _buckets: dict[object, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: object, now: float) -> float:
        """0 if `key` may make a request now (and counts it), else the seconds to wait."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate_per_s

    def pace(self, key: object, now: float) -> float:
        """Count a request of `key` now, whatever the bucket holds; the seconds until it is
        due (0: at once). For pacing, where nothing is refused, only delayed."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate_per_s) - 1
        self._buckets[key] = (tokens, now)
        return max(0.0, -tokens / self.rate_per_s)

    def forget(self, key: object) -> None:
        self._buckets.pop(key, None)
