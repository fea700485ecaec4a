"""The simulator's report: latency histograms (percentiles within 2 % of the exact ones) and
what made connections fail, by kind."""

from __future__ import annotations

import random

import pytest
from websockets import InvalidStatus
from websockets.datastructures import Headers
from websockets.http11 import Response

from sigecve.simulator.charge_point import SimulationCounters
from sigecve.simulator.metrics import LatencyHistogram


def test_percentiles_are_within_two_percent_of_the_exact_ones():
    rng = random.Random(1)
    samples = [rng.lognormvariate(-4, 1) for _ in range(20_000)]
    h = LatencyHistogram()
    for s in samples:
        h.record(s)
    ordered = sorted(samples)
    for q in (50, 95, 99):
        exact = ordered[round(q / 100 * len(ordered)) - 1]
        assert h.percentile(q) == pytest.approx(exact, rel=0.021)
    assert h.percentile(100) == max(samples)
    assert h.summary_ms()["count"] == 20_000


def test_merged_histograms_count_both_and_an_empty_one_has_no_percentile():
    a, b = LatencyHistogram(), LatencyHistogram()
    assert a.percentile(99) is None and a.summary_ms()["p99_ms"] is None
    a.record(0.001)
    b.record(0.1)
    a.merge(b)
    assert a.total == 2 and a.percentile(50) == pytest.approx(0.001, rel=0.021)
    assert a.percentile(99) == pytest.approx(0.1, rel=0.021)


def test_failures_are_counted_by_kind():
    counters = SimulationCounters()
    refused = InvalidStatus(Response(503, "Service Unavailable", Headers()))
    counters.failure(False, refused)
    counters.failure(False, TimeoutError())
    # A charger's task group raises what ended the connection inside an exception group.
    counters.failure(True, ExceptionGroup("charger", [ConnectionResetError()]))
    counters.failure(False, refused)
    assert (counters.errors, counters.drops) == (3, 1)
    assert counters.failure_kinds == {
        "error: HTTP 503": 2,
        "error: TimeoutError": 1,
        "drop: ConnectionResetError": 1,
    }
