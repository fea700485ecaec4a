"""Online smart charging when drivers tell nothing: guessing departures from their habits.

A generated site with habits (written for this benchmark, apart from the predictor): for
each size, a pool of drivers, 55 % commuters (weekdays, each with their own arrival time
around 7:00-9:30 and stay of 7-10 hours, give or take 15-25 minutes), 15 % fleet vans (every
day, back at 17-19 h, staying until the next morning), 30 % visitors (any day, any time
from 7 to 21 h, stays log-normal around 90 minutes, half of the visits with a card
nobody saw before); a charge point per 1.25 drivers, each
day's sessions on the first free one (a session that finds none is turned away); 8-60 kWh
asked on 7.4-22 kW EVs; a site limit of 30 % of the charge points' sum; time-of-use prices
(cheap at night and at midday, dear in the evening).

Four weeks of history, then a week of test days, an honest time split: each test day is
predicted only from the sessions that ended before it. Per test day, one day at 15-minute
slots, on the same arrivals:
- offline: the planner knowing every departure (the optimum);
- online_site_dwell: the online scheduler with the site's 25th percentile dwell of the
  previous day (the benchmark `smart_charging.py`'s `online`);
- online_predicted: each session's departure guessed by `predict_departure` from the
  history (the driver's habit, else the site's), waiting for cheap slots on a `high` guess;
- online_known: every driver tells their departure on arrival.
Both online runs keep room for the previous day's arrivals, as the running scheduler does.

Usage: python benchmarks/departure_prediction.py [--sizes 100 1000] [--seeds 1 2]
Writes benchmarks/results/departure_prediction.json. Pure computation.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from sigecve.smart_charging.departures import (  # noqa: E402
    DepartureHistory,
    PastSession,
    predict_departure,
)
from sigecve.smart_charging.online import receding_horizon  # noqa: E402
from sigecve.smart_charging.planner import optimal_powers  # noqa: E402
from sigecve.smart_charging.scenario import Scenario  # noqa: E402

SLOTS, SLOT_MINUTES = 96, 15
HISTORY_DAYS, TEST_DAYS = 28, 7
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
STRATEGIES = ("offline", "online_site_dwell", "online_predicted", "online_known")


@dataclass
class Visit:
    driver: str
    arrival: datetime
    departure: datetime
    energy_kwh: float
    ev_kw: float


def drivers(count: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(count):
        kind = rng.choices(["commuter", "fleet", "visitor"], [0.55, 0.15, 0.30])[0]
        out.append(
            {
                "id": f"{kind}-{i}",
                "kind": kind,
                "arrive_h": rng.uniform(7.0, 9.5) if kind == "commuter" else rng.uniform(17, 19),
                "stay_h": rng.uniform(7.0, 10.0) if kind == "commuter" else rng.uniform(11, 13),
                "sd_min": rng.uniform(15, 25),
                "ev_kw": rng.choice([7.4, 11.0, 11.0, 22.0]),
                "kwh": rng.uniform(8, 25) if kind == "commuter" else rng.uniform(20, 60),
            }
        )
    return out


def day_visits(pool: list[dict], day: datetime, rng: random.Random) -> list[Visit]:
    weekend = day.weekday() >= 5
    visits = []
    for d in pool:
        if d["kind"] == "commuter":
            if weekend or rng.random() > 0.9:
                continue
            arrive = d["arrive_h"] + rng.gauss(0, d["sd_min"] / 60)
            stay = d["stay_h"] + rng.gauss(0, d["sd_min"] / 60)
            kwh = d["kwh"] * rng.uniform(0.7, 1.3)
        elif d["kind"] == "fleet":
            if rng.random() > 0.95:
                continue
            arrive = d["arrive_h"] + rng.gauss(0, d["sd_min"] / 60)
            stay = d["stay_h"] + rng.gauss(0, d["sd_min"] / 60)
            kwh = d["kwh"] * rng.uniform(0.7, 1.3)
        else:
            if rng.random() > (0.15 if weekend else 0.25):
                continue
            arrive = rng.uniform(7, 21)
            stay = rng.lognormvariate(math.log(1.5), 0.6)
            kwh = rng.uniform(5, 30)
        arrival = day + timedelta(hours=arrive)
        # Half of the visitors' visits come with a card nobody saw before (a stranger).
        stranger = d["kind"] == "visitor" and rng.random() < 0.5
        visits.append(
            Visit(
                f"stranger-{day.date()}-{d['id']}" if stranger else d["id"],
                arrival,
                arrival + timedelta(hours=max(stay, 0.25)),
                round(kwh, 2),
                d["ev_kw"],
            )
        )
    return sorted(visits, key=lambda v: v.arrival)


def scenario(visits: list[Visit], day: datetime, charge_points: int, rng: random.Random):
    """The day as a scenario (sessions on the first free charge point) and its visits."""
    cp_kw = [22.0] * charge_points
    free_at = [day - timedelta(days=1)] * charge_points
    sessions, kept = [], []
    for v in visits:
        arrival_slot = int((v.arrival - day).total_seconds() // (SLOT_MINUTES * 60))
        if arrival_slot >= SLOTS - 1:
            continue
        cp = next((k for k in range(charge_points) if free_at[k] <= v.arrival), None)
        if cp is None:
            continue  # turned away: no free charge point
        free_at[cp] = v.departure
        departure_slot = math.ceil((v.departure - day).total_seconds() / (SLOT_MINUTES * 60))
        sessions.append(
            {
                "id": f"{v.driver}@{arrival_slot}",
                "charge_point_id": f"cp{cp}",
                "arrival_slot": arrival_slot,
                "departure_slot": max(departure_slot, arrival_slot + 1),
                "energy_kwh": v.energy_kwh,
                "max_power_kw": v.ev_kw,
            }
        )
        kept.append(v)
    hours = np.arange(SLOTS) * SLOT_MINUTES / 60
    prices = 0.20 + 0.15 * ((hours >= 17) & (hours < 21)) - 0.08 * ((hours >= 11) & (hours < 15))
    prices = prices - 0.06 * ((hours < 6) | (hours >= 23))
    s = Scenario.model_validate(
        {
            "name": f"habits-{charge_points}-{day.date()}",
            "slot_minutes": SLOT_MINUTES,
            "horizon_slots": SLOTS,
            "site": {"id": "habits", "max_power_kw": round(0.3 * sum(cp_kw), 1)},
            "prices": [round(float(p) + rng.uniform(0, 0.01), 4) for p in prices],
            "charge_points": [{"id": f"cp{k}", "max_power_kw": kw} for k, kw in enumerate(cp_kw)],
            "sessions": sessions,
        }
    )
    return s, kept


def figures(s: Scenario, powers: np.ndarray) -> tuple[float, float]:
    h = s.slot_hours
    return float(powers.sum() * h), float((powers.sum(axis=0) * np.array(s.prices)).sum() * h)


def run(size: int, seed: int) -> dict:
    rng = random.Random(seed * 100_003 + size)
    pool = drivers(round(size * 1.25), rng)
    days = [START + timedelta(days=d) for d in range(HISTORY_DAYS + TEST_DAYS)]
    visits = {day: day_visits(pool, day, rng) for day in days}
    totals = {k: [0.0, 0.0] for k in STRATEGIES}
    confidence: dict[str, int] = {}
    sources: dict[str, int] = {}
    abs_errors, too_long = [], 0
    for day in days[HISTORY_DAYS:]:
        s, kept = scenario(visits[day], day, size, rng)
        past = [
            PastSession(v.driver, v.arrival, v.departure)
            for d in days
            if d < day
            for v in visits[d]
            if v.departure <= day
        ]
        history = DepartureHistory(past)
        previous, _ = scenario(visits[day - timedelta(days=1)], day - timedelta(days=1), size, rng)
        forecast = previous.sessions
        dwells = [x.departure_slot - x.arrival_slot for x in previous.sessions]
        dwell_25 = int(np.percentile(dwells, 25))
        predicted, may_wait = [], []
        site_default = float(np.median(history.dwell))
        for v, x in zip(kept, s.sessions, strict=True):
            guess = predict_departure(history, v.driver, v.arrival, site_default)
            slot = math.ceil((guess.departure_at - day).total_seconds() / (SLOT_MINUTES * 60))
            predicted.append(max(slot, x.arrival_slot + 1))
            may_wait.append(guess.confidence == "high")
            confidence[guess.confidence] = confidence.get(guess.confidence, 0) + 1
            sources[guess.source] = sources.get(guess.source, 0) + 1
            error = (guess.departure_at - v.departure).total_seconds() / 60
            abs_errors.append(abs(error))
            too_long += error > 0
        runs = {
            "offline": optimal_powers(s),
            "online_site_dwell": receding_horizon(s, dwell_25, None, forecast),
            "online_predicted": receding_horizon(
                s, dwell_25, None, forecast, predicted_departure=predicted, may_wait=may_wait
            ),
            "online_known": receding_horizon(s, dwell_25, [True] * len(s.sessions), forecast),
        }
        for key, powers in runs.items():
            energy, cost = figures(s, powers)
            totals[key][0] += energy
            totals[key][1] += cost
    base_energy, base_cost = totals["offline"]
    row = {
        "charge_points": size,
        "drivers": len(pool),
        "seed": seed,
        "test_days": TEST_DAYS,
        "test_sessions": len(abs_errors),
        "prediction": {
            "median_abs_error_minutes": round(float(np.median(abs_errors)), 1),
            "share_too_long": round(too_long / len(abs_errors), 3),
            "confidence": confidence,
            "source": sources,
        },
    }
    for key in STRATEGIES:
        energy, cost = totals[key]
        row[key] = {
            "energy_kwh": round(energy, 1),
            "cost": round(cost, 2),
            "energy_vs_offline": round(energy / base_energy, 4),
            "cost_vs_offline": round(cost / base_cost, 4),
        }
    return row


def table(r: dict) -> str:
    rows = [
        "| charge points | seed | test sessions | strategy | energy vs offline | cost vs offline |",
        "| ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for x in r["results"]:
        for key in STRATEGIES[1:]:
            rows.append(
                f"| {x['charge_points']} | {x['seed']} | {x['test_sessions']} | {key} | "
                f"{x[key]['energy_vs_offline']} | {x[key]['cost_vs_offline']} |"
            )
    rows += [
        "",
        "| charge points | seed | median error, min | guesses too long | high / medium / low |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for x in r["results"]:
        p, c = x["prediction"], x["prediction"]["confidence"]
        rows.append(
            f"| {x['charge_points']} | {x['seed']} | {p['median_abs_error_minutes']} | "
            f"{p['share_too_long']} | {c.get('high', 0)} / {c.get('medium', 0)} / "
            f"{c.get('low', 0)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "departure_prediction.json"
    )
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        for seed in args.seeds:
            print(f"site of {size} charge points, seed {seed} ...", file=sys.stderr, flush=True)
            rows.append(run(size, seed))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = write_report(
        args.out,
        "python benchmarks/departure_prediction.py --sizes "
        + " ".join(map(str, args.sizes))
        + " --seeds "
        + " ".join(map(str, args.seeds)),
        rows,
    )
    print(table(report))


if __name__ == "__main__":
    main()
