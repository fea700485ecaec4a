"""Generated telemetry of a fleet whose chargers fail, with the precursors real failures show
(in the layout of shared/contracts/telemetry.md), so that models can be trained and evaluated
without a real fleet's history, and the whole loop tested end to end.

The failure modes and their precursors are those of sigecve/simulator/failure_modes.py, which
the live simulator plays too. A share of failures come without warning, and healthy chargers
report harmless error codes now and then, so no single signal separates them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ml.telemetry import Telemetry, conform
from sigecve.simulator.failure_modes import (
    FAILURE_MODES,
    FAULT_CODE,
    HARMLESS_CODES,
    VOLTS,
    Degradation,
    amps_of,
)

FIRMWARE = ("1.4.2", "1.5.0", "2.0.1")


@dataclass(frozen=True)
class FleetSpec:
    charge_points: int = 200
    days: int = 180
    failures_per_year: float = 1.5
    sudden_share: float = 0.2  # failures without precursors
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    seed: int = 1
    # Failures decided beforehand, besides the random ones: (charge point number, mode,
    # failed at, days of precursors), e.g. a charger's past before it degrades live.
    planned: tuple[tuple[int, str, datetime, float], ...] = ()


@dataclass
class _Failure:
    failed_at: datetime
    restored_at: datetime
    mode: str
    precursor_days: float  # 0: sudden


def _failures(spec: FleetSpec, rng: random.Random) -> list[_Failure]:
    out: list[_Failure] = []
    if spec.failures_per_year <= 0:
        return out
    day = rng.expovariate(spec.failures_per_year / 365)
    while day < spec.days:
        failed = spec.start + timedelta(days=day, hours=rng.uniform(0, 24))
        restored = failed + timedelta(hours=rng.uniform(12, 72))
        sudden = rng.random() < spec.sudden_share
        out.append(
            _Failure(
                failed, restored, rng.choice(FAILURE_MODES), 0 if sudden else rng.uniform(3, 10)
            )
        )
        day = (restored - spec.start).total_seconds() / 86400 + rng.expovariate(
            spec.failures_per_year / 365
        )
    return out


def _degradation(at: datetime, failures: list[_Failure]) -> Degradation:
    """The degradation under way at `at` (healthy if none)."""
    for f in failures:
        if f.precursor_days and f.failed_at - timedelta(days=f.precursor_days) <= at < f.failed_at:
            elapsed = (at - (f.failed_at - timedelta(days=f.precursor_days))).total_seconds()
            return Degradation(f.mode, elapsed / (f.precursor_days * 86400))
    return Degradation()


def _in_outage(at: datetime, failures: list[_Failure]) -> bool:
    return any(f.failed_at <= at < f.restored_at for f in failures)


def generate(spec: FleetSpec = FleetSpec()) -> Telemetry:
    rng = random.Random(spec.seed)
    np_rng = np.random.default_rng(spec.seed)
    cps, meters, statuses, transactions, connectivity, maintenance = [], [], [], [], [], []
    tx_id = 0
    for n in range(spec.charge_points):
        cp = f"CP-{n:04d}"
        commissioned = spec.start - timedelta(days=rng.uniform(30, 1500))
        cps.append(
            {
                "charge_point_id": cp,
                "vendor": rng.choice(("Alfen", "ABB", "Wallbox")),
                "model": rng.choice(("AC22", "AC11")),
                "firmware_version": rng.choice(FIRMWARE),
                "commissioned_at": commissioned,
                "site_id": f"site-{n // 20}",
                "max_power_kw": 22.0,
                "connector_count": 2,
            }
        )
        failures = _failures(spec, rng) + [
            _Failure(at, at + timedelta(hours=24), mode, days)
            for number, mode, at, days in spec.planned
            if number == n
        ]
        for f in failures:
            maintenance.append(
                {
                    "charge_point_id": cp,
                    "failed_at": f.failed_at,
                    "restored_at": f.restored_at,
                    "failure_mode": f.mode,
                    "notes": "sudden" if not f.precursor_days else "",
                }
            )
            statuses += [
                {
                    "charge_point_id": cp,
                    "connector_id": 1,
                    "timestamp": f.failed_at,
                    "status": "Faulted",
                    "error_code": FAULT_CODE[f.mode],
                },
                {
                    "charge_point_id": cp,
                    "connector_id": 1,
                    "timestamp": f.restored_at,
                    "status": "Available",
                    "error_code": "NoError",
                },
            ]
        ambient = rng.uniform(12, 24)
        heat = rng.uniform(0.008, 0.012)  # degC per A^2: the charger's own contacts
        for day in range(spec.days):
            midnight = spec.start + timedelta(days=day)
            for hour in range(24):
                at = midnight + timedelta(hours=hour, minutes=rng.uniform(0, 59))
                if _in_outage(at, failures):
                    continue
                degradation = _degradation(at, failures)
                if rng.random() < degradation.missed_heartbeat_probability():
                    if rng.random() < degradation.disconnect_probability():
                        connectivity += [
                            {"charge_point_id": cp, "timestamp": at, "event": "disconnect"},
                            {
                                "charge_point_id": cp,
                                "timestamp": at + timedelta(minutes=rng.uniform(1, 30)),
                                "event": "connect",
                            },
                        ]
                    continue  # a missed heartbeat
                connectivity.append({"charge_point_id": cp, "timestamp": at, "event": "heartbeat"})
            if rng.random() < 0.02:  # harmless codes on healthy chargers too
                statuses.append(
                    {
                        "charge_point_id": cp,
                        "connector_id": rng.choice((1, 2)),
                        "timestamp": midnight + timedelta(hours=rng.uniform(0, 24)),
                        "status": "Available",
                        "error_code": rng.choice(HARMLESS_CODES),
                    }
                )
            code, per_day = _degradation(
                midnight + timedelta(hours=12), failures
            ).error_code_rate_per_day()
            for _ in range(np_rng.poisson(per_day)):
                statuses.append(
                    {
                        "charge_point_id": cp,
                        "connector_id": 1,
                        "timestamp": midnight + timedelta(hours=rng.uniform(0, 24)),
                        "status": "Available",
                        "error_code": code,
                    }
                )
            for _ in range(np_rng.poisson(4.0)):
                started = midnight + timedelta(hours=rng.uniform(6, 22))
                if _in_outage(started, failures):
                    continue
                degradation = _degradation(started, failures)
                tx_id += 1
                connector = rng.choice((1, 2))
                if rng.random() < degradation.failed_start_probability():
                    transactions.append(
                        {
                            "charge_point_id": cp,
                            "connector_id": connector,
                            "transaction_id": str(tx_id),
                            "started_at": started,
                            "stopped_at": started,
                            "energy_wh": 0.0,
                            "start_failed": True,
                        }
                    )
                    continue
                hours = rng.uniform(0.5, 4)
                offered_w = 22_000.0
                drawn_w = degradation.drawn_w(min(offered_w, rng.uniform(10, 32) * 3 * VOLTS))
                amps = amps_of(drawn_w)
                temperature = degradation.temperature_c(ambient, heat, amps) + rng.gauss(0, 1.0)
                energy = drawn_w * hours
                if rng.random() < degradation.zero_energy_probability():
                    energy = 0.0
                stopped = started + timedelta(hours=hours)
                transactions.append(
                    {
                        "charge_point_id": cp,
                        "connector_id": connector,
                        "transaction_id": str(tx_id),
                        "started_at": started,
                        "stopped_at": stopped,
                        "energy_wh": round(energy, 1),
                        "start_failed": False,
                    }
                )
                for measurand, value in (
                    ("Current.Import", amps),
                    ("Temperature", temperature),
                    ("Power.Active.Import", drawn_w),
                    ("Power.Offered", offered_w),
                ):
                    meters.append(
                        {
                            "charge_point_id": cp,
                            "connector_id": connector,
                            "timestamp": stopped,
                            "measurand": measurand,
                            "value": round(value, 2),
                            "transaction_id": str(tx_id),
                        }
                    )
    frames = {
        "charge_points": cps,
        "meter_values": meters,
        "status_events": statuses,
        "transactions": transactions,
        "connectivity": connectivity,
        "maintenance": maintenance,
    }
    return Telemetry(**{name: conform(name, pd.DataFrame(rows)) for name, rows in frames.items()})
