"""When to start a dead embedded PostgreSQL again, and what health shows of it (pure).

The server is watched every `CHECK_EVERY_S`; found dead, it is started at once, and again
after each failed start with a delay doubling from `FIRST_RETRY_S` to `MAX_RETRY_S`, so a
server that cannot start (a full disk) is not hammered, and one that can is back within
about a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

CHECK_EVERY_S = 0.5
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0

State = Literal["running", "down", "starting"]


@dataclass
class Supervision:
    state: State = "running"
    restarts: int = 0  # starts that succeeded after the server died
    failed_starts: int = 0  # in a row, since it was last running
    last_error: str | None = None
    down_since: datetime | None = None
    next_attempt_at: float = 0.0  # monotonic
    history: list[str] = field(default_factory=list)  # the last few events, for the log

    def should_start(self, running: bool, now: float) -> bool:
        """Told whether the server runs now; whether to start it now."""
        if running:
            if self.state != "running":
                self.state, self.down_since, self.failed_starts = "running", None, 0
            return False
        if self.state == "running":
            self.state, self.down_since = "down", datetime.now(UTC)
            self.next_attempt_at = now
            self._note("found dead")
        if self.state == "starting" or now < self.next_attempt_at:
            return False
        self.state = "starting"
        return True

    def started(self) -> None:
        self.state, self.failed_starts, self.last_error = "running", 0, None
        self.restarts += 1
        self.down_since = None
        self._note("started again")

    def start_failed(self, error: str, now: float) -> float:
        """A start failed; the delay before the next attempt."""
        self.failed_starts += 1
        self.last_error = error
        delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (self.failed_starts - 1))
        self.state, self.next_attempt_at = "down", now + delay
        self._note(f"start failed: {error}")
        return delay

    def _note(self, event: str) -> None:
        self.history = [*self.history[-9:], f"{datetime.now(UTC).isoformat()} {event}"]

    def status(self, now: float) -> dict:
        """What health and operators see."""
        report: dict = {"state": self.state, "restarts": self.restarts}
        if self.state != "running":
            assert self.down_since is not None
            report["down_since"] = self.down_since.isoformat()
            report["failed_starts"] = self.failed_starts
            report["next_attempt_in_s"] = round(max(0.0, self.next_attempt_at - now), 1)
        if self.last_error:
            report["last_error"] = self.last_error
        return report

    def describe(self, now: float) -> str:
        """One line for the health report."""
        s = self.status(now)
        if s["state"] == "running":
            return f"embedded server running ({self.restarts} restarts)"
        text = (
            f"embedded server {s['state']} since {s['down_since']}, "
            f"{s['failed_starts']} failed starts, next attempt in {s['next_attempt_in_s']} s"
        )
        return text + (f" (last error: {self.last_error})" if self.last_error else "")
