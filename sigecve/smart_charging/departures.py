"""When will an EV leave? A guess from history, for the sessions whose driver and EV said
nothing (pure).

Drivers are creatures of habit: a commuter plugs in at 8 and leaves at 17, a delivery van
comes back at 18 and leaves at 6. The guess is a low quantile (`QUANTILE`, the 20th
percentile) of the dwells of the most alike past sessions, in this order:

1. the driver's (id tag's) sessions that began on the same kind of day (weekday or weekend)
   within two hours of this arrival's time of day, if there are at least 3;
2. all the driver's sessions, if at least 3;
3. the site's sessions alike in the same way, if at least 5, else all of them, if at least 5;
4. the site's default dwell (`default_dwell_minutes`).

A quantile, not a mean: a guess too long lets the scheduler wait for cheap slots the EV
never sees (energy lost), a guess too short only charges it sooner than needed (a little
cost); a low quantile of a habitual driver's dwells is rarely too long. `confidence` says how
far to trust it: `high` for a driver's own habit with at least 5 alike sessions whose middle
60 % span at most a quarter of the guess, `medium` for any driver-based guess or a site with
at least 20 alike sessions, `low` otherwise. The online scheduler lets a session wait for
cheaper slots only on a `high` guess; on the others it charges as early as possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

QUANTILE = 0.2
ALIKE_HOURS = 2.0
MIN_DRIVER_SESSIONS = 3
MIN_SITE_SESSIONS = 5
HIGH_CONFIDENCE_SESSIONS = 5
HIGH_CONFIDENCE_SPREAD = 0.25
MEDIUM_CONFIDENCE_SITE_SESSIONS = 20

Source = Literal["driver_alike", "driver", "site_alike", "site", "default"]


@dataclass(frozen=True)
class PastSession:
    id_tag: str | None
    started_at: datetime
    stopped_at: datetime

    @property
    def dwell_minutes(self) -> float:
        return (self.stopped_at - self.started_at).total_seconds() / 60


class DeparturePrediction(BaseModel):
    """A guessed departure, with what it rests on."""

    departure_at: datetime
    dwell_minutes: float = Field(description="the guessed stay from the session's start")
    source: Source = Field(
        description="driver_alike / driver: the id tag's own sessions (alike arrivals, or "
        "all); site_alike / site: the site's; default: the site's default dwell"
    )
    sessions: int = Field(description="past sessions the guess rests on")
    quantile: float = Field(description="the quantile of their dwells taken")
    spread_minutes: float | None = Field(
        default=None, description="80th minus 20th percentile of those dwells"
    )
    confidence: Literal["high", "medium", "low"]


class DepartureHistory:
    """A site's finished sessions, indexed once for many guesses: by id tag, with each
    session's start (epoch seconds), time of day (hours), kind of day and dwell as arrays."""

    def __init__(self, sessions: Sequence[PastSession]) -> None:
        kept = [x for x in sessions if x.stopped_at > x.started_at]
        self.started = np.array([x.started_at.timestamp() for x in kept], dtype=float)
        self.hour = np.array(
            [x.started_at.hour + x.started_at.minute / 60 for x in kept], dtype=float
        )
        self.weekend = np.array([x.started_at.weekday() >= 5 for x in kept], dtype=bool)
        self.dwell = np.array([x.dwell_minutes for x in kept], dtype=float)
        tags: dict[str, list[int]] = {}
        for i, x in enumerate(kept):
            if x.id_tag is not None:
                tags.setdefault(x.id_tag, []).append(i)
        self.by_tag = {tag: np.array(rows, dtype=int) for tag, rows in tags.items()}

    def __len__(self) -> int:
        return len(self.dwell)


def predict_departure(
    history: DepartureHistory,
    id_tag: str | None,
    arrival: datetime,
    default_dwell_minutes: float,
) -> DeparturePrediction:
    """The guessed departure of a session begun at `arrival` by `id_tag`, from the site's
    `history` of finished sessions (those begun before `arrival` only are used)."""
    past = history.started < arrival.timestamp()
    hour = arrival.hour + arrival.minute / 60
    apart = np.abs(history.hour - hour)
    alike = past & (history.weekend == (arrival.weekday() >= 5))
    alike &= np.minimum(apart, 24 - apart) <= ALIKE_HOURS
    rows = history.by_tag.get(id_tag, np.zeros(0, dtype=int)) if id_tag else np.zeros(0, int)
    own = rows[past[rows]]
    candidates: list[tuple[Source, np.ndarray, int]] = [
        ("driver_alike", own[alike[own]], MIN_DRIVER_SESSIONS),
        ("driver", own, MIN_DRIVER_SESSIONS),
        ("site_alike", np.flatnonzero(alike), MIN_SITE_SESSIONS),
        ("site", np.flatnonzero(past), MIN_SITE_SESSIONS),
    ]
    for source, chosen, needed in candidates:
        if len(chosen) >= needed:
            dwells = history.dwell[chosen]
            dwell = float(np.quantile(dwells, QUANTILE))
            spread = float(np.quantile(dwells, 0.8) - np.quantile(dwells, 0.2))
            return DeparturePrediction(
                departure_at=arrival + timedelta(minutes=dwell),
                dwell_minutes=round(dwell, 1),
                source=source,
                sessions=len(chosen),
                quantile=QUANTILE,
                spread_minutes=round(spread, 1),
                confidence=_confidence(source, len(chosen), dwell, spread),
            )
    return DeparturePrediction(
        departure_at=arrival + timedelta(minutes=default_dwell_minutes),
        dwell_minutes=round(default_dwell_minutes, 1),
        source="default",
        sessions=0,
        quantile=QUANTILE,
        confidence="low",
    )


def _confidence(
    source: Source, sessions: int, dwell: float, spread: float
) -> Literal["high", "medium", "low"]:
    if (
        source == "driver_alike"
        and sessions >= HIGH_CONFIDENCE_SESSIONS
        and spread <= HIGH_CONFIDENCE_SPREAD * dwell
    ):
        return "high"
    if source in ("driver_alike", "driver"):
        return "medium"
    if source == "site_alike" and sessions >= MEDIUM_CONFIDENCE_SITE_SESSIONS:
        return "medium"
    return "low"
