"""Running a fleet of simulated charge points from one process, with progress and a report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sigecve.simulator.charge_point import (
    ChargerMemory,
    FailurePlan,
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
    connect,
)
from sigecve.simulator.charge_point_21 import SimulatedChargePoint21
from sigecve.simulator.charge_point_201 import SimulatedChargePoint201
from sigecve.simulator.failure_modes import FAILURE_MODES
from sigecve.simulator.metrics import LatencyHistogram, merged

STORM_STEP_S = 5.0  # the storm report's boots-again curve, one point per step
SIMULATED_CLASSES = {
    "ocpp1.6": SimulatedChargePoint16,
    "ocpp2.0.1": SimulatedChargePoint201,
    "ocpp2.1": SimulatedChargePoint21,
}

log = logging.getLogger(__name__)


def charge_point_ids(prefix: str, count: int) -> list[str]:
    width = max(3, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def protocols_for(count: int, share_201: float, share_21: float = 0.0) -> list[str]:
    """Which charge points speak 2.0.1 and 2.1 (those shares of the fleet, the rest 1.6), each
    spread evenly through the fleet (pure)."""
    share_2x = min(1.0, share_201 + share_21)
    of_2x_21 = share_21 / share_2x if share_2x else 0.0
    protocols, n_2x = [], 0
    for i in range(count):
        if not _picked(i, share_2x):
            protocols.append("ocpp1.6")
            continue
        protocols.append("ocpp2.1" if _picked(n_2x, of_2x_21) else "ocpp2.0.1")
        n_2x += 1
    return protocols


def _picked(i: int, share: float) -> bool:
    """Whether the i-th of a row is one of `share` of it spread evenly (pure)."""
    return math.floor((i + 1) * share) > math.floor(i * share)


@dataclass
class Storm:
    """Every charge point drops its connection at `at` (monotonic) and reconnects at once:
    the restart of a CSMS as chargers see it. Recovery is the time to boot again."""

    at: float
    recovered: LatencyHistogram = field(default_factory=LatencyHistogram)
    # From the drop to each charger's first new attempt (once its tasks have unwound).
    reconnecting: LatencyHistogram = field(default_factory=LatencyHistogram)
    booted_after_s: list[float] = field(default_factory=list)

    def booted(self) -> None:
        after = time.monotonic() - self.at
        self.recovered.record(after)
        self.booted_after_s.append(after)

    def booted_within(self, step_s: float = STORM_STEP_S) -> dict[str, int]:
        """How many had booted again within each `step_s` after the drop, to the last (pure)."""
        if not self.booted_after_s:
            return {}
        steps = math.ceil(max(self.booted_after_s) / step_s)
        return {
            f"{(i + 1) * step_s:g}": sum(1 for t in self.booted_after_s if t <= (i + 1) * step_s)
            for i in range(steps)
        }


async def run_charge_point(
    urls: str | Sequence[str],
    charge_point_id: str,
    password: str | None,
    profile: SimulationProfile,
    counters: SimulationCounters,
    rng: random.Random,
    protocol: str = "ocpp1.6",
    ssl_context: ssl.SSLContext | None = None,
    start_after_s: float = 0.0,
    storm: Storm | None = None,
    stopping: asyncio.Event | None = None,
    memory: ChargerMemory | None = None,
    first_url: int = 0,
) -> None:
    """Keep one simulated charger connected and charging; reconnect with backoff when dropped,
    to the next of `urls` (DNS round robin as a charger sees it: `first_url` first).
    `memory` is what it keeps across connections. `stopping` is set before the caller cancels
    it for good."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    memory = memory or ChargerMemory.new(rng, profile.connectors)
    attempt = first_url
    backoff = 1.0
    extra = {"ssl": ssl_context} if ssl_context is not None else {}
    stormed = recovered = False
    await asyncio.sleep(start_after_s)
    while True:
        booted = False
        opening = time.perf_counter()
        url = urls[attempt % len(urls)]
        attempt += 1
        try:
            async with await connect(url, charge_point_id, password, protocol, **extra) as ws:
                cp = SIMULATED_CLASSES[protocol](
                    charge_point_id, ws, profile, counters, rng, memory
                )
                counters.connected += 1
                try:
                    # Any of these ending (the connection closing) ends them all.
                    async with asyncio.TaskGroup() as group:
                        group.create_task(cp.start())
                        interval = await cp.boot()
                        booted = memory.booted = True
                        await cp.send_unacknowledged()
                        counters.connect_s.record(time.perf_counter() - opening)
                        if storm is not None and stormed and not recovered:
                            recovered = True  # once: a later drop is not the storm's
                            storm.booted()
                        elif storm is not None and not stormed:
                            group.create_task(_drop_at(ws, storm.at))
                        group.create_task(cp.heartbeat_loop(profile.heartbeat_s or interval))
                        for c in range(1, profile.connectors + 1):
                            group.create_task(cp.connector_loop(c))
                        group.create_task(cp.failure_loop())
                finally:
                    counters.connected -= 1
                    memory.connection_lost()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # A TaskGroup whose children fail while it is being cancelled raises their
            # errors and drops the cancellation (Python 3.11): honour it here. Otherwise
            # the cancellation request counted is the group's own, which Python 3.11 leaves
            # behind: undone, or the next failure would end this charger for good.
            if stopping is not None and stopping.is_set():
                raise asyncio.CancelledError from e
            current = asyncio.current_task()
            while current is not None and current.cancelling():
                current.uncancel()
            if storm is not None and not stormed and time.monotonic() >= storm.at:
                stormed = True  # our own drop: reconnect at once
                storm.reconnecting.record(time.monotonic() - storm.at)
                continue
            counters.failure(booted, e)
            counters.last_error = f"{charge_point_id}: {type(e).__name__}: {e}"
            log.info("simulated %s dropped: %s", charge_point_id, counters.last_error)
        counters.reconnects += 1
        backoff = reconnect_backoff(backoff, booted)
        await asyncio.sleep(backoff * rng.uniform(0.5, 1.5))
        backoff = min(backoff * 2, 60.0)


def reconnect_backoff(backoff: float, booted: bool) -> float:
    """The wait before reconnecting, before jitter (pure): 1 s after a connection that had
    booted, else the doubled wait so far. A WebSocket the CSMS opened but whose boot it did
    not answer is no success: an overloaded CSMS is not sent its chargers back each second."""
    return 1.0 if booted else backoff


async def _drop_at(ws, at: float) -> None:
    """The connection is lost at `at`, as in a CSMS restart or a network outage: no closing
    handshake to wait for (the charger's tasks end with the connection)."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    ws.transport.abort()


PROGRESS_COUNTERS = (
    "connected",
    "boots",
    "sessions_started",
    "sessions_stopped",
    "errors",
    "drops",
    "call_errors",
    "messages",
)


def _progress(
    counters: SimulationCounters, count: int, elapsed: float, rate: float, storm: Storm | None
) -> Table:
    table = Table(title=f"SIGEC-VE simulator: {count} charge points, {elapsed:.0f} s")
    for name in PROGRESS_COUNTERS:
        table.add_column(name.replace("_", " "))
    table.add_column("msg/s")
    table.add_column("p99 ms")
    if storm is not None:
        table.add_column("back after storm")
    p99 = merged(counters.round_trips.values()).percentile(99)
    row = [str(getattr(counters, n)) for n in PROGRESS_COUNTERS]
    row += [f"{rate:.0f}", "-" if p99 is None else f"{p99 * 1000:.0f}"]
    if storm is not None:
        row.append(str(storm.recovered.total))
    table.add_row(*row)
    return table


def fleet_report(
    counters: SimulationCounters,
    count: int,
    duration_s: float,
    storm: Storm | None,
    memories: dict[str, ChargerMemory] | None = None,
) -> dict:
    """The JSON report: what happened, and round trips per action; with `memories`, per
    charger whether it ended booted and what the CSMS acknowledged to it (the ledger)."""
    report: dict = {
        "charge_points": count,
        # When the run began: what a charger of this run sent is no older (`sigecve lab check`).
        "started_at": (
            datetime.fromtimestamp(counters.started_wall, UTC).isoformat()
            if counters.started_wall is not None
            else None
        ),
        "duration_s": round(duration_s, 1),
        **{n: getattr(counters, n) for n in PROGRESS_COUNTERS},
        "refused_tags": counters.refused_tags,
        "reconnects": counters.reconnects,
        "messages_per_s": round(counters.messages / max(duration_s, 1e-9), 1),
        "last_error": counters.last_error,
        "failure_kinds": dict(sorted(counters.failure_kinds.items())),
        "call_error_kinds": dict(sorted(counters.call_error_kinds.items())),
        "connect": counters.connect_s.summary_ms(),
        "drops_per_10s": {str(at): n for at, n in sorted(counters.drops_per_10s.items())},
        "booted_per_10s": {str(at): n for at, n in sorted(counters.booted_per_10s.items())},
        "round_trip": {a: h.summary_ms() for a, h in sorted(counters.round_trips.items())},
    }
    report["round_trip_all"] = merged(counters.round_trips.values()).summary_ms()
    if counters.ramp_ends_at is not None:
        after = counters.round_trips_after_ramp
        report["round_trip_after_ramp"] = {
            **{a: h.summary_ms() for a, h in sorted(after.items())},
            "all": merged(after.values()).summary_ms(),
        }
    if storm is not None:
        report["storm"] = {
            "recovered": storm.recovered.total,
            "not_recovered": count - storm.recovered.total,
            "time_to_boot": storm.recovered.summary_ms(),
            "time_to_reconnect": storm.reconnecting.summary_ms(),
            "booted_within_s": storm.booted_within(),
        }
    if memories is not None:
        report["booted_at_end"] = sum(m.booted for m in memories.values())
        report["unacknowledged_at_end"] = sum(len(m.unacknowledged) for m in memories.values())
        report["chargers"] = {cp_id: m.report() for cp_id, m in sorted(memories.items())}
    return report


def failing(
    ids: list[str], mode: str, share: float, after_s: float, precursor_s: float, seed: int | None
) -> dict[str, FailurePlan]:
    """`share` of the charge points, picked at random, degrade in `mode` from `after_s` on."""
    if mode not in FAILURE_MODES:
        raise ValueError(f"unknown failure mode {mode!r}: one of {', '.join(FAILURE_MODES)}")
    chosen = random.Random(seed).sample(ids, k=max(1, round(share * len(ids))) if share else 0)
    starts_at = time.monotonic() + after_s
    return {cp: FailurePlan(mode, starts_at, precursor_s) for cp in chosen}


async def run_fleet(
    urls: str | Sequence[str],
    count: int,
    *,
    password_template: str | None,
    id_prefix: str = "SIM-",
    duration_s: float | None = None,
    profile: SimulationProfile | None = None,
    seed: int | None = None,
    console: Console | None = None,
    share_201: float = 0.0,
    share_21: float = 0.0,
    ssl_context: ssl.SSLContext | None = None,
    failures: dict[str, FailurePlan] | None = None,
    ramp_s: float = 0.0,
    storm_after_s: float | None = None,
    stop: asyncio.Event | None = None,
    part: tuple[int, int] = (0, 1),
    ledger: bool = False,
    progress: Callable[[SimulationCounters, Storm | None], None] | None = None,
) -> dict:
    """Run `count` charge points until `duration_s` passes (or forever); return a JSON report.
    Charger i connects first to `urls[i % len(urls)]`. `failures`: the charge points that
    degrade and fault, by id. `ramp_s`: connect them evenly over that long. `storm_after_s`:
    all drop and reconnect at once then. `stop`: set, it ends early. `part` (i, n): run only
    the chargers whose index is i modulo n, one process's share of a fleet run by n.
    `ledger`: the report has each charger's. `progress`: called every second instead of the
    live table (a process of several reports to its parent)."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("no OCPP URL to connect to")
    profile = profile or SimulationProfile()
    failures = failures or {}
    counters = SimulationCounters()
    rng = random.Random(seed)
    ids = charge_point_ids(id_prefix, count)
    # One random stream per charger, drawn for the whole fleet: a charger behaves the same
    # whichever process runs it.
    seeds = [rng.random() for _ in ids]
    mine = [i for i in range(count) if i % part[1] == part[0]]
    started = counters.started_at = time.monotonic()
    counters.started_wall = time.time()
    if ramp_s > 0:
        counters.ramp_ends_at = started + ramp_s
    storm = Storm(started + storm_after_s) if storm_after_s is not None else None
    stopping = asyncio.Event()
    protocols = protocols_for(count, share_201, share_21)
    memories: dict[str, ChargerMemory] = {}
    tasks = []
    for i in mine:
        cp_id = ids[i]
        charger_rng = random.Random(seeds[i])
        memory = memories[cp_id] = ChargerMemory.new(charger_rng, profile.connectors)
        memory.protocol = protocols[i]
        if profile.charging_at_start and charger_rng.random() < profile.charging_at_start:
            memory.arriving_at_once.add(1)
        tasks.append(
            asyncio.create_task(
                run_charge_point(
                    urls,
                    cp_id,
                    password_template.format(id=cp_id) if password_template else None,
                    replace(profile, failure=failures[cp_id]) if cp_id in failures else profile,
                    counters,
                    charger_rng,
                    protocols[i],
                    ssl_context,
                    start_after_s=ramp_s * i / count,
                    storm=storm,
                    stopping=stopping,
                    memory=memory,
                    first_url=i,
                )
            )
        )
    console = console or Console(stderr=True)
    last_messages, last_at = 0, started
    stop = stop or asyncio.Event()
    live = (
        Live(
            _progress(counters, len(mine), 0, 0, storm),
            console=console,
            refresh_per_second=1,
            transient=False,
            auto_refresh=False,
        )
        if progress is None
        else contextlib.nullcontext()
    )
    try:
        with live:
            while not stop.is_set() and (
                duration_s is None or time.monotonic() - started < duration_s
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                now = time.monotonic()
                if (
                    counters.ramp_ends_at is not None
                    and not counters.steady
                    and now >= counters.ramp_ends_at
                    and all(m.booted for m in memories.values())
                ):
                    counters.steady = True
                counters.booted_per_10s[int((now - started) // 10) * 10] = sum(
                    m.booted for m in memories.values()
                )
                rate = (counters.messages - last_messages) / (now - last_at)
                last_messages, last_at = counters.messages, now
                if progress is not None:
                    progress(counters, storm)
                else:
                    table = _progress(counters, len(mine), now - started, rate, storm)
                    live.update(table, refresh=True)
    finally:
        # The ledger as it stood when the run ended, before closing connections changes it.
        counters.frozen = True
        report = fleet_report(
            counters,
            len(mine),
            time.monotonic() - started,
            storm,
            memories if ledger else None,
        )
        if part[1] > 1:  # for the parent to merge with the other processes' counters
            from sigecve.simulator.processes import counters_raw

            report["raw"] = counters_raw(counters, storm)
        stopping.set()
        for t in tasks:
            t.cancel()
        # Bounded: closing handshakes take at most websockets' close timeout (10 s).
        await asyncio.wait(tasks, timeout=30)
    return report
