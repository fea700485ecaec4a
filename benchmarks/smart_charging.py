"""Smart-charging planner against the offline optimum and two baselines, on generated sites.

For each site size (charge points), one day at 15-minute slots:
- offline: the planner with perfect foresight (the optimum; its solve time is the figure);
- online: the receding-horizon scheduler, which learns of an EV when it arrives and plans
  with a per-site default dwell (the 25th percentile of the previous day's dwells) instead
  of the real departure, re-planning every slot, keeping room for the arrivals the previous
  day had after the current slot (its forecast), as the running grid scheduler does;
- online_known_50 / online_known_100: the same, with half (all) of the drivers telling their
  departure on arrival (REST/MCP demand, or 2.0.1 NotifyEVChargingNeeds);
- online_known_100_no_forecast: all departures known, no forecast of later arrivals;
- equal share: the site limit split equally among the EVs present (what most CSMSs do);
- uncontrolled: every EV at full power from arrival, whatever the site limit.

Usage: python benchmarks/smart_charging.py [--sizes 10 100 1000] [--online-up-to 1000]
Pure computation (no Ray, no database); writes benchmarks/results/smart_charging.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from sigecve.smart_charging.baselines import equal_share, uncontrolled  # noqa: E402
from sigecve.smart_charging.online import receding_horizon  # noqa: E402
from sigecve.smart_charging.planner import plan  # noqa: E402
from sigecve.smart_charging.scenario import Scenario  # noqa: E402

SLOTS, SLOT_MINUTES = 96, 15
STRATEGIES = (
    "offline",
    "online",
    "online_known_50",
    "online_known_100",
    "online_known_100_no_forecast",
    "equal_share",
    "uncontrolled",
)


def generate(charge_points: int, seed: int) -> Scenario:
    """A mixed workplace/residential site: morning and evening arrivals, 7-50 kW EVs."""
    rng = random.Random(seed)
    cps = [
        {"id": f"cp{i}", "max_power_kw": 50.0 if i % 10 == 0 else 22.0, "phases": 3}
        for i in range(charge_points)
    ]
    sessions = []
    for i, cp in enumerate(cps):
        slot = rng.randrange(0, 8)
        n = 0
        while slot < SLOTS - 2:
            morning = rng.random() < 0.6
            arrival = max(slot, int(rng.gauss(34 if morning else 72, 6)))
            if arrival >= SLOTS - 2:
                break
            dwell = max(2, int(rng.lognormvariate(np.log(24 if morning else 40), 0.5)))
            departure = arrival + dwell
            sessions.append(
                {
                    "id": f"s{i}-{n}",
                    "charge_point_id": cp["id"],
                    "arrival_slot": arrival,
                    "departure_slot": departure,
                    "energy_kwh": round(rng.uniform(8, 60), 2),
                    "max_power_kw": rng.choice([7.4, 11.0, 11.0, 22.0, 50.0]),
                }
            )
            n += 1
            slot = departure + rng.randrange(1, 8)
    hours = np.arange(SLOTS) * SLOT_MINUTES / 60
    prices = 0.12 + 0.10 * ((hours >= 7) & (hours < 10)) + 0.14 * ((hours >= 17) & (hours < 21))
    prices = prices - 0.05 * ((hours >= 11) & (hours < 15))  # midday solar
    prices = [round(float(p) + rng.uniform(0, 0.02), 4) for p in prices]
    total = sum(cp["max_power_kw"] for cp in cps)
    return Scenario.model_validate(
        {
            "name": f"site-{charge_points}",
            "slot_minutes": SLOT_MINUTES,
            "horizon_slots": SLOTS,
            "site": {"id": f"site-{charge_points}", "max_power_kw": round(0.2 * total, 1)},
            "prices": prices,
            "charge_points": cps,
            "sessions": sessions,
        }
    )


def figures(s: Scenario, powers: np.ndarray) -> dict:
    h = s.slot_hours
    site = powers.sum(axis=0)
    limits = np.array([s.site_limit(t) for t in range(s.horizon_slots)])
    return {
        "energy_kwh": round(float(powers.sum() * h), 2),
        "cost": round(float((site * np.array(s.prices)).sum() * h), 2),
        "peak_kw": round(float(site.max()), 1),
        "slots_over_site_limit": int((site > limits + 1e-6).sum()),
    }


def dwell_estimate(previous_day: Scenario) -> int:
    dwells = [x.departure_slot - x.arrival_slot for x in previous_day.sessions]
    return int(np.percentile(dwells, 25))


def run(size: int, online: bool) -> dict:
    s = generate(size, seed=size)
    started = time.perf_counter()
    offline_plan = plan(s)
    offline_s = time.perf_counter() - started
    offline = np.array([p.power_kw for p in offline_plan.sessions])
    row = {
        "charge_points": size,
        "sessions": len(s.sessions),
        "requested_kwh": round(sum(x.energy_kwh for x in s.sessions), 1),
        "site_limit_kw": s.site.max_power_kw,
        "offline": {
            **figures(s, offline),
            "solve_s": round(offline_s, 3),
            "status": offline_plan.summary.status,
        },
        "equal_share": figures(s, equal_share(s)),
        "uncontrolled": figures(s, uncontrolled(s)),
    }
    if online:
        previous_day = generate(size, seed=size + 10_000)
        estimate = dwell_estimate(previous_day)
        for key, share, forecast in (
            ("online", 0.0, previous_day.sessions),
            ("online_known_50", 0.5, previous_day.sessions),
            ("online_known_100", 1.0, previous_day.sessions),
            ("online_known_100_no_forecast", 1.0, None),
        ):
            rng = random.Random(size)
            known = [rng.random() < share for _ in s.sessions]
            started = time.perf_counter()
            powers = receding_horizon(s, estimate, known, forecast)
            row[key] = {
                **figures(s, powers),
                "dwell_estimate_slots": estimate,
                "departures_known": sum(known),
                "replans": SLOTS,
                "total_s": round(time.perf_counter() - started, 1),
            }
    base = row["offline"]
    for key in STRATEGIES[1:]:
        if key in row:
            row[key]["energy_vs_offline"] = round(row[key]["energy_kwh"] / base["energy_kwh"], 4)
            row[key]["cost_vs_offline"] = round(row[key]["cost"] / base["cost"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument(
        "--online-up-to",
        type=int,
        default=1000,
        help="run the online scheduler for sizes up to this",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "smart_charging.json"
    )
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        print(f"site of {size} charge points ...", file=sys.stderr, flush=True)
        rows.append(run(size, online=size <= args.online_up_to))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    write_report(
        args.out,
        "python benchmarks/smart_charging.py --sizes "
        + " ".join(map(str, args.sizes))
        + f" --online-up-to {args.online_up_to}",
        rows,
    )
    print(
        "| charge points | sessions | strategy | energy kWh | vs offline | cost | vs offline "
        "| peak kW | slots over limit | time s |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        for key in STRATEGIES:
            if key not in r:
                continue
            f = r[key]
            seconds = f.get("solve_s", f.get("total_s", ""))
            print(
                f"| {r['charge_points']} | {r['sessions']} | {key} | {f['energy_kwh']} | "
                f"{f.get('energy_vs_offline', 1.0)} | {f['cost']} | "
                f"{f.get('cost_vs_offline', 1.0)} | {f['peak_kw']} | "
                f"{f['slots_over_site_limit']} | {seconds} |"
            )


if __name__ == "__main__":
    main()
