"""Decisions of the MCP server and the assistant without a server: suggested actions, the
rate limit, which turn a request asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sigecve.assistant import AssistantState, ProposedAction, next_turn
from sigecve.domain import ConnectorStatus
from sigecve.rate_limit import TokenBuckets
from sigecve.services.diagnostics import FailureRisk, StatusProblem, suggest_action
from sigecve.services.errors import InvalidInput
from sigecve.variable_monitoring import MonitoringEvent

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
NO_RISK = FailureRisk(charge_point_id="CP-1", risk=None)


def faulted(connector: int, code: str | None) -> ConnectorStatus:
    return ConnectorStatus(connector_id=connector, status="Faulted", error_code=code, status_at=NOW)


def suggest(**facts) -> str:
    base = {
        "connected": True,
        "last_seen_at": NOW,
        "now": NOW,
        "problems": [],
        "faulted": [],
        "risk": NO_RISK,
    }
    return suggest_action(**{**base, **facts})


def test_a_current_fault_comes_first_with_its_own_remedy():
    action = suggest(faulted=[faulted(2, "ReaderFailure")], connected=False)
    assert action.startswith("connector 2 is Faulted (ReaderFailure)")
    assert "RFID reader" in action
    assert "soft-reset" in suggest(faulted=[faulted(1, "NoError")])


def test_offline_then_silent_then_at_risk():
    assert "offline since" in suggest(connected=False, last_seen_at=NOW - timedelta(hours=3))
    assert "silent" in suggest(last_seen_at=NOW - timedelta(hours=1))
    risky = FailureRisk(
        charge_point_id="CP-1", risk=0.8, horizon_hours=48, failure_mode="connector"
    )
    assert suggest(risk=risky) == (
        "failure risk 80% within 48 h: schedule preventive maintenance of the connector"
    )
    # What the station's monitors report now comes before a prediction: the most severe.
    hot, warm = (
        MonitoringEvent(component="PowerConverter", variable="Temperature", event_id=i,
                        at=NOW, trigger="Alerting", actual_value=value, severity=severity)
        for i, value, severity in ((1, "92", 1), (2, "81", 4))
    )  # fmt: skip
    assert suggest(risk=risky, reported=[warm, hot]) == (
        "the station reports PowerConverter.Temperature at 92 (Alerting, severity 1): "
        "inspect it on site before it fails"
    )
    assert "offline" in suggest(connected=False, reported=[hot])  # communication first


def test_a_recent_error_that_cleared_is_still_mentioned():
    problem = StatusProblem(connector_id=1, status="Available", error_code="WeakSignal", at=NOW)
    assert "WeakSignal" in suggest(problems=[problem]) and "modem" in suggest(problems=[problem])
    assert suggest().startswith("no action needed")


def test_the_rate_limit_allows_a_burst_then_the_rate():
    buckets = TokenBuckets(rate_per_s=2, burst=3)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a", 0.0) == pytest.approx(0.5)
    assert buckets.take("b", 0.0) == 0  # each token its own bucket
    assert buckets.take("a", 0.5) == 0  # one more after half a second
    assert buckets.take("a", 0.5) > 0


PENDING = ProposedAction(id="toolu_1", tool="send_remote_reset", arguments={"charge_point_id": "X"})


def test_a_turn_starts_from_a_question_or_goes_on_from_a_state():
    turn = next_turn("how is CP-1?")
    assert turn.messages == [{"role": "user", "content": "how is CP-1?"}] and not turn.pending
    done = AssistantState(messages=[{"role": "user", "content": "q"}])
    assert next_turn("and now?", done).messages[-1] == {"role": "user", "content": "and now?"}
    waiting = AssistantState(messages=done.messages, pending=[PENDING], results=[{"x": 1}])
    turn = next_turn(None, waiting, approve=True)
    assert (turn.pending, turn.results, turn.approve) == ([PENDING], [{"x": 1}], True)


@pytest.mark.parametrize(
    ("question", "state", "approve", "field"),
    [
        (None, None, None, "question"),
        ("", None, None, "question"),
        (None, AssistantState(messages=[], pending=[PENDING]), None, "approve"),
        ("also this", AssistantState(messages=[], pending=[PENDING]), True, "question"),
        (None, AssistantState(messages=[]), None, "question"),
    ],
)
def test_a_turn_that_cannot_be_played_names_what_is_missing(question, state, approve, field):
    with pytest.raises(InvalidInput, match=field):
        next_turn(question, state, approve)
