"""Vehicle-to-grid against charging only: what bidirectional EVs save a site, and the plan time.

For each size (charge points) and share of bidirectional EVs, one day at 15-minute slots on a
generated site: commuters by day and residents overnight (about two sessions per charge
point), EVs of 7.4-22 kW, a site limit of 40 % of the charge points' sum that drops to 25 %
in the evening peak (a grid operator's signal), import prices with a morning and an evening
peak, export prices at 85 % of them, battery wear of 0.03 per kWh discharged, an export
limit of a tenth of the site limit. A bidirectional EV may give up to its own charging
power, down to 10-30 kWh below its charge at arrival, with 10-40 kWh of headroom over its
target. The same sessions are planned with V2G and with every discharge set to 0:
energy, cost (import less export revenue plus wear), energy discharged and exported, and the
whole plan's time.

Usage: python benchmarks/v2g.py [--sizes 10 100 1000] [--shares 0.25 0.5] [--seed 1]
Writes benchmarks/results/v2g.json. Pure computation (no Ray, no database).
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from sigecve.smart_charging.planner import plan  # noqa: E402
from sigecve.smart_charging.scenario import Scenario  # noqa: E402

SLOTS, SLOT_MINUTES = 96, 15
WEAR = 0.03


def prices_of_day() -> list[float]:
    hour = [t * SLOT_MINUTES / 60 for t in range(SLOTS)]
    return [
        round(0.14 + 0.12 * (7 <= h < 9) + 0.26 * (17 <= h < 21) - 0.04 * (h < 5), 4) for h in hour
    ]


def site_day(charge_points: int, share: float, seed: int) -> dict:
    rng = random.Random(seed)
    cps = [{"id": f"cp{i}", "max_power_kw": rng.choice([11.0, 22.0])} for i in range(charge_points)]
    sessions = []
    for i, cp in enumerate(cps):
        # a commuter 8:00-17:30 or so, then a resident from the evening to the next morning
        visits = [
            (rng.randrange(28, 40), rng.randrange(60, 76)),
            (rng.randrange(70, 84), SLOTS),
        ]
        for n, (arrival, departure) in enumerate(visits):
            if n == 0 and rng.random() < 0.3:
                continue  # not every charge point has a commuter
            arrival = max(arrival, sessions[-1]["departure_slot"] if n and sessions else 0)
            if departure - arrival < 2:
                continue
            ev_kw = rng.choice([7.4, 11.0, 11.0, 22.0])
            energy = round(rng.uniform(8, 45), 2)
            x = {
                "id": f"s{i}-{n}",
                "charge_point_id": cp["id"],
                "arrival_slot": arrival,
                "departure_slot": departure,
                "energy_kwh": energy,
                "max_power_kw": ev_kw,
            }
            if rng.random() < share:
                x |= {
                    "max_discharge_kw": ev_kw,
                    "v2x_min_kwh": -round(rng.uniform(10, 30), 2),
                    "max_energy_kwh": round(energy + rng.uniform(10, 40), 2),
                }
            sessions.append(x)
    limit = 0.4 * sum(cp["max_power_kw"] for cp in cps)
    prices = prices_of_day()
    return {
        "name": f"v2g-{charge_points}-{share}-{seed}",
        "slot_minutes": SLOT_MINUTES,
        "horizon_slots": SLOTS,
        "site": {
            "id": "S",
            "max_power_kw": round(limit, 1),
            "max_power_kw_by_slot": [
                round(limit * (0.625 if 68 <= t < 84 else 1.0), 1) for t in range(SLOTS)
            ],
            "max_export_kw": round(0.1 * limit, 1),
        },
        "prices": prices,
        "export_prices": [round(0.85 * p, 4) for p in prices],
        "battery_wear_cost_per_kwh": WEAR,
        "charge_points": cps,
        "sessions": sessions,
    }


def measure(raw: dict) -> dict:
    started = time.perf_counter()
    result = plan(Scenario.model_validate(raw))
    seconds = time.perf_counter() - started
    s = result.summary
    return {
        "energy_kwh": s.energy_kwh,
        "cost": s.cost,
        "discharged_kwh": s.discharged_kwh or 0.0,
        "exported_kwh": s.exported_kwh or 0.0,
        "seconds": round(seconds, 3),
        "status": s.status,
    }


def run(size: int, share: float, seed: int) -> dict:
    raw = site_day(size, share, seed)
    with_v2g = measure(raw)
    one_way = copy.deepcopy(raw)
    for x in one_way["sessions"]:
        x["max_discharge_kw"] = 0.0
    without = measure(one_way)
    bidirectional = sum(1 for x in raw["sessions"] if x.get("max_discharge_kw"))
    row = {
        "charge_points": size,
        "share_bidirectional": share,
        "seed": seed,
        "sessions": len(raw["sessions"]),
        "bidirectional_sessions": bidirectional,
        "v2g": with_v2g,
        "charging_only": without,
        "cost_saved": round(without["cost"] - with_v2g["cost"], 2),
        "cost_vs_charging_only": round(with_v2g["cost"] / without["cost"], 4),
        "energy_vs_charging_only": round(with_v2g["energy_kwh"] / without["energy_kwh"], 5),
    }
    print(
        f"{size} cp, {share:.0%} bidirectional: cost {with_v2g['cost']:.1f} vs "
        f"{without['cost']:.1f} ({row['cost_vs_charging_only']}), energy "
        f"{row['energy_vs_charging_only']}, {with_v2g['seconds']} s",
        flush=True,
    )
    return row


def table(r: dict) -> str:
    rows = [
        "| charge points | bidirectional | sessions | energy vs charging only | "
        "cost, charging only | cost, V2G | saved | discharged kWh | exported kWh | V2G plan, s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for x in r["results"]:
        v, c = x["v2g"], x["charging_only"]
        rows.append(
            f"| {x['charge_points']} | {x['share_bidirectional']:.0%} | {x['sessions']} | "
            f"{x['energy_vs_charging_only']} | {c['cost']:.2f} | {v['cost']:.2f} | "
            f"{1 - x['cost_vs_charging_only']:.1%} | {v['discharged_kwh']:.0f} | "
            f"{v['exported_kwh']:.0f} | {v['seconds']} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/v2g.json")
    args = parser.parse_args()
    rows = [run(n, share, args.seed) for n in args.sizes for share in args.shares]
    command = "python benchmarks/v2g.py --sizes {} --shares {} --seed {}".format(
        " ".join(map(str, args.sizes)), " ".join(map(str, args.shares)), args.seed
    )
    write_report(args.out, command, rows)


if __name__ == "__main__":
    main()
