"""Departure guesses from history (pure): each rule on hand-built histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sigecve.smart_charging.departures import (
    DepartureHistory,
    PastSession,
)
from sigecve.smart_charging.departures import predict_departure as predict_from

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def predict_departure(sessions: list[PastSession], *args, **kwargs):
    return predict_from(DepartureHistory(sessions), *args, **kwargs)


def visit(tag: str | None, day: int, hour: float, minutes: float) -> PastSession:
    start = MONDAY + timedelta(days=day, hours=hour)
    return PastSession(tag, start, start + timedelta(minutes=minutes))


def test_a_commuter_is_guessed_from_their_own_alike_mornings_at_a_low_quantile():
    # Five weekday mornings at 8:00 of 500-540 minutes; one weekend errand of 30 minutes.
    history = [visit("alice", d, 8, 500 + 10 * d) for d in range(5)] + [visit("alice", 5, 8, 30)]
    arrival = MONDAY + timedelta(days=7, hours=8, minutes=10)
    guess = predict_departure(history, "alice", arrival, default_dwell_minutes=240)
    assert guess.source == "driver_alike" and guess.sessions == 5
    assert guess.dwell_minutes == pytest.approx(508)  # the 20th percentile of 500..540
    assert guess.departure_at == arrival + timedelta(minutes=508)
    assert guess.confidence == "high"


def test_an_arrival_unlike_the_drivers_habit_falls_back_to_all_their_sessions():
    history = [visit("bob", d, 8, 480) for d in range(4)]
    evening = MONDAY + timedelta(days=7, hours=19)
    guess = predict_departure(history, "bob", evening, default_dwell_minutes=240)
    assert guess.source == "driver" and guess.confidence == "medium"


def test_a_stranger_gets_the_sites_alike_sessions_then_the_site_then_the_default():
    site = [visit(f"v{i}", i % 5, 14, 60 + i) for i in range(6)]
    afternoon = MONDAY + timedelta(days=7, hours=14, minutes=30)
    guess = predict_departure(site, "stranger", afternoon, default_dwell_minutes=240)
    assert guess.source == "site_alike" and guess.confidence == "low" and guess.sessions == 6
    night = MONDAY + timedelta(days=7, hours=2)
    assert predict_departure(site, None, night, 240).source == "site"
    nothing = predict_departure(site[:2], None, night, 240)
    assert nothing.source == "default" and nothing.dwell_minutes == 240
    assert nothing.departure_at == night + timedelta(minutes=240)


def test_only_the_past_is_used_and_broken_sessions_are_ignored():
    arrival = MONDAY + timedelta(days=3, hours=8)
    future = [visit("carol", d, 8, 100) for d in range(4, 9)]
    broken = [PastSession("carol", arrival - timedelta(days=1), arrival - timedelta(days=1))] * 5
    assert predict_departure(future + broken, "carol", arrival, 240).source == "default"


def test_a_wide_habit_is_not_trusted_to_wait():
    history = [visit("dan", d, 9, minutes) for d, minutes in enumerate([60, 200, 420, 600, 90])]
    guess = predict_departure(history, "dan", MONDAY + timedelta(days=7, hours=9), 240)
    assert guess.source == "driver_alike" and guess.confidence == "medium"


def test_the_day_kind_and_midnight_wrap_decide_what_is_alike():
    # A night-shift driver at 23:30 on weekdays; the arrival at 00:15 is within two hours.
    history = [visit("erin", d, 23.5, 400) for d in range(5)]
    guess = predict_departure(history, "erin", MONDAY + timedelta(days=8, minutes=15), 240)
    assert guess.source == "driver_alike"
    saturday = MONDAY + timedelta(days=12, hours=23, minutes=30)
    assert predict_departure(history, "erin", saturday, 240).source == "driver"
