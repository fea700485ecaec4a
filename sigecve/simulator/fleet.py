"""Running a fleet of simulated charge points from one process, with progress and a report."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import ssl
import time
from dataclasses import asdict, replace

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sigecve.simulator.charge_point import (
    FailurePlan,
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
    connect,
)
from sigecve.simulator.charge_point_201 import SimulatedChargePoint201
from sigecve.simulator.failure_modes import FAILURE_MODES

SIMULATED_CLASSES = {"ocpp1.6": SimulatedChargePoint16, "ocpp2.0.1": SimulatedChargePoint201}

log = logging.getLogger(__name__)


def charge_point_ids(prefix: str, count: int) -> list[str]:
    width = max(3, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def protocols_for(count: int, share_201: float) -> list[str]:
    """Which charge points speak 2.0.1: `share_201` of them, spread evenly through the fleet."""
    return [
        "ocpp2.0.1" if math.floor((i + 1) * share_201) > math.floor(i * share_201) else "ocpp1.6"
        for i in range(count)
    ]


async def run_charge_point(
    url: str,
    charge_point_id: str,
    password: str | None,
    profile: SimulationProfile,
    counters: SimulationCounters,
    rng: random.Random,
    protocol: str = "ocpp1.6",
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Keep one simulated charger connected and charging; reconnect with backoff when dropped."""
    backoff = 1.0
    extra = {"ssl": ssl_context} if ssl_context is not None else {}
    while True:
        try:
            async with await connect(url, charge_point_id, password, protocol, **extra) as ws:
                cp = SIMULATED_CLASSES[protocol](charge_point_id, ws, profile, counters, rng)
                counters.connected += 1
                backoff = 1.0
                try:
                    # Any of these ending (the connection closing) ends them all.
                    async with asyncio.TaskGroup() as group:
                        group.create_task(cp.start())
                        interval = await cp.boot()
                        group.create_task(cp.heartbeat_loop(profile.heartbeat_s or interval))
                        for c in range(1, profile.connectors + 1):
                            group.create_task(cp.connector_loop(c))
                        group.create_task(cp.failure_loop())
                finally:
                    counters.connected -= 1
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # A TaskGroup whose children fail while it is being cancelled raises their
            # errors and drops the cancellation (Python 3.11): honour it here.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError from e
            counters.errors += 1
            counters.last_error = f"{charge_point_id}: {type(e).__name__}: {e}"
            log.info("simulated %s dropped: %s", charge_point_id, counters.last_error)
        counters.reconnects += 1
        await asyncio.sleep(backoff * rng.uniform(0.5, 1.5))
        backoff = min(backoff * 2, 60.0)


def _progress(counters: SimulationCounters, count: int, elapsed: float) -> Table:
    table = Table(title=f"SIGEC-VE simulator: {count} charge points, {elapsed:.0f} s")
    for name in (
        "connected",
        "boots",
        "sessions_started",
        "sessions_stopped",
        "refused_tags",
        "errors",
        "messages",
    ):
        table.add_column(name.replace("_", " "))
    table.add_row(
        *(
            str(getattr(counters, n))
            for n in (
                "connected",
                "boots",
                "sessions_started",
                "sessions_stopped",
                "refused_tags",
                "errors",
                "messages",
            )
        )
    )
    return table


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
    url: str,
    count: int,
    *,
    password_template: str | None,
    id_prefix: str = "SIM-",
    duration_s: float | None = None,
    profile: SimulationProfile | None = None,
    seed: int | None = None,
    console: Console | None = None,
    share_201: float = 0.0,
    ssl_context: ssl.SSLContext | None = None,
    failures: dict[str, FailurePlan] | None = None,
) -> dict:
    """Run `count` charge points until `duration_s` passes (or forever); return a JSON report.
    `failures`: the charge points that degrade and fault, by id."""
    profile = profile or SimulationProfile()
    failures = failures or {}
    counters = SimulationCounters()
    rng = random.Random(seed)
    ids = charge_point_ids(id_prefix, count)
    started = time.monotonic()
    tasks = [
        asyncio.create_task(
            run_charge_point(
                url,
                cp_id,
                password_template.format(id=cp_id) if password_template else None,
                replace(profile, failure=failures[cp_id]) if cp_id in failures else profile,
                counters,
                random.Random(rng.random()),
                protocol,
                ssl_context,
            )
        )
        for cp_id, protocol in zip(ids, protocols_for(count, share_201), strict=True)
    ]
    console = console or Console(stderr=True)
    try:
        with Live(
            _progress(counters, count, 0),
            console=console,
            refresh_per_second=1,
            transient=False,
            auto_refresh=False,
        ) as live:
            while duration_s is None or time.monotonic() - started < duration_s:
                await asyncio.sleep(1.0)
                live.update(_progress(counters, count, time.monotonic() - started), refresh=True)
    finally:
        for t in tasks:
            t.cancel()
        # Bounded: closing handshakes take at most websockets' close timeout (10 s).
        await asyncio.wait(tasks, timeout=30)
    report = asdict(counters)
    report.update(charge_points=count, duration_s=round(time.monotonic() - started, 1))
    return report
