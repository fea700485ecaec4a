"""Latency figures a long simulation can keep: log-spaced histograms, not every sample."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

SMALLEST_S = 1e-5  # 10 µs
GROWTH = 1.02  # each bucket 2 % wider than the last: percentiles to within 2 %


@dataclass
class LatencyHistogram:
    """Counts of durations in buckets growing by 2 %; percentiles to within a bucket."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    largest_s: float = 0.0

    def record(self, seconds: float) -> None:
        bucket = max(0, math.ceil(math.log(max(seconds, SMALLEST_S) / SMALLEST_S, GROWTH)))
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.total += 1
        self.largest_s = max(self.largest_s, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, n in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + n
        self.total += other.total
        self.largest_s = max(self.largest_s, other.largest_s)

    def percentile(self, q: float) -> float | None:
        """The duration `q` (0-100) percent of the samples are at or below (a bucket's top)."""
        if not self.total:
            return None
        rank = math.ceil(q / 100 * self.total)
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return min(SMALLEST_S * GROWTH**bucket, self.largest_s)
        return self.largest_s

    def as_json(self) -> dict:
        return {"counts": self.counts, "total": self.total, "largest_s": self.largest_s}

    @classmethod
    def from_json(cls, data: dict) -> LatencyHistogram:
        counts = {int(b): n for b, n in data["counts"].items()}
        return cls(counts, data["total"], data["largest_s"])

    def summary_ms(self) -> dict[str, float | int | None]:
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 2)

        return {
            "count": self.total,
            "p50_ms": ms(self.percentile(50)),
            "p95_ms": ms(self.percentile(95)),
            "p99_ms": ms(self.percentile(99)),
            "max_ms": ms(self.largest_s if self.total else None),
        }


def merged(histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
    """One histogram of everything the given ones recorded."""
    overall = LatencyHistogram()
    for histogram in histograms:
        overall.merge(histogram)
    return overall
