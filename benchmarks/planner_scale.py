"""The planner by site size: the whole `sigecve schedule` command's time and peak memory, and
how close its plan is to the optimum, on dense generated depots with minimum powers.

For each size (charge points), one day at 15-minute slots: about four sessions per charge
point one after the other, a quarter of them with a minimum charging power (an EV that
charges at 4-6 kW or not at all), EVs of 7.4-50 kW on 11-50 kW charge points, a site limit
of a quarter of the charge points' sum, prices following the day. Measured:
- `sigecve schedule` as a separate process: wall time from start to exit (imports and JSON
  included) and its peak resident memory (wait4's ru_maxrss);
- energy and cost against the relaxation without minimum powers (solved by the same flow,
  which is the LP: an upper bound of the optimum's energy);
- up to `--exact-up-to`: HiGHS's exact MILP (`sigecve schedule --exact`) in the same way,
  its time and the flow plan's energy and cost against it;
- at `--online-size`: every re-plan of the online scheduler through the day (departures
  unknown), its median and slowest.

Usage: python benchmarks/planner_scale.py [--sizes 10 100 1000 3000 10000] [--exact-up-to 1000]
Writes benchmarks/results/planner_scale.json. Pure computation (no Ray, no database).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402
from sigecve.smart_charging.online import receding_horizon  # noqa: E402
from sigecve.smart_charging.planner import plan  # noqa: E402
from sigecve.smart_charging.scenario import Scenario  # noqa: E402

SLOTS, SLOT_MINUTES = 96, 15


def depot(charge_points: int, seed: int) -> dict:
    """A dense depot day: back-to-back sessions, a quarter with a minimum power."""
    rng = random.Random(seed)
    cps = [
        {"id": f"cp{i}", "max_power_kw": rng.choice([11.0, 22.0, 22.0, 50.0])}
        for i in range(charge_points)
    ]
    sessions = []
    for i, cp in enumerate(cps):
        slot, n = rng.randrange(0, 6), 0
        while slot + 2 < SLOTS:
            dwell = max(2, int(rng.lognormvariate(np.log(14), 0.5)))
            ev_max = rng.choice([7.4, 11.0, 22.0, 50.0])
            session = {
                "id": f"s{i}-{n}",
                "charge_point_id": cp["id"],
                "arrival_slot": slot,
                "departure_slot": min(SLOTS, slot + dwell),
                "energy_kwh": round(rng.uniform(5, 40), 2),
                "max_power_kw": ev_max,
            }
            if rng.random() < 0.25:
                session["min_power_kw"] = min(ev_max, cp["max_power_kw"], rng.choice([4.0, 6.0]))
            sessions.append(session)
            n += 1
            slot = session["departure_slot"] + rng.randrange(2, 12)
    prices = [
        round(0.15 + 0.1 * np.sin(2 * np.pi * t / SLOTS) + rng.uniform(0, 0.03), 4)
        for t in range(SLOTS)
    ]
    total = sum(cp["max_power_kw"] for cp in cps)
    return {
        "name": f"depot-{charge_points}",
        "slot_minutes": SLOT_MINUTES,
        "horizon_slots": SLOTS,
        "site": {"id": f"depot-{charge_points}", "max_power_kw": round(0.25 * total, 1)},
        "prices": prices,
        "charge_points": cps,
        "sessions": sessions,
    }


def command(scenario: Path, out: Path, exact: bool) -> dict:
    """`sigecve schedule` in its own process: wall seconds, peak RSS, the plan's summary."""
    args = [
        str(Path(sys.executable).parent / "sigecve"),
        "schedule",
        "--scenario",
        str(scenario),
        "--out",
        str(out),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(args + (["--exact"] if exact else []), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return {
        "seconds": round(seconds, 2),
        "peak_mib": round(usage.ru_maxrss / 1024),
        "summary": json.loads(out.read_text())["summary"],
    }


def run(size: int, exact: bool, online: bool, workdir: Path) -> dict:
    raw = depot(size, seed=size)
    scenario_file = workdir / f"depot-{size}.json"
    scenario_file.write_text(json.dumps(raw))
    s = Scenario.model_validate(raw)
    relaxed = s.model_copy(
        update={"sessions": [x.model_copy(update={"min_power_kw": None}) for x in s.sessions]}
    )
    bound = plan(relaxed).summary
    fast = command(scenario_file, workdir / "fast.json", exact=False)
    row = {
        "charge_points": size,
        "sessions": len(s.sessions),
        "with_minimum_power": sum(1 for x in s.sessions if x.min_power_kw),
        "variables": sum(min(x.departure_slot, SLOTS) - x.arrival_slot for x in s.sessions),
        "flow": fast,
        "energy_vs_relaxation": round(fast["summary"]["energy_kwh"] / bound.energy_kwh, 5),
        "cost_vs_relaxation": round(fast["summary"]["cost"] / bound.cost, 5),
    }
    if exact:
        milp = command(scenario_file, workdir / "exact.json", exact=True)
        row["exact"] = milp
        row["energy_vs_exact"] = round(
            fast["summary"]["energy_kwh"] / milp["summary"]["energy_kwh"], 5
        )
        row["cost_vs_exact"] = round(fast["summary"]["cost"] / milp["summary"]["cost"], 5)
    if online:
        seconds: list[float] = []
        receding_horizon(s, dwell_estimate_slots=12, replan_seconds=seconds)
        row["online_replan_s"] = {
            "replans": len(seconds),
            "median": round(float(np.median(seconds)), 4),
            "max": round(max(seconds), 4),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 3000, 10000])
    parser.add_argument("--exact-up-to", type=int, default=1000)
    parser.add_argument("--online-size", type=int, default=1000)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "planner_scale.json"
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(f"depot of {size} charge points ...", file=sys.stderr, flush=True)
            rows.append(run(size, size <= args.exact_up_to, size == args.online_size, Path(tmp)))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = write_report(
        args.out,
        "python benchmarks/planner_scale.py --sizes "
        + " ".join(map(str, args.sizes))
        + f" --exact-up-to {args.exact_up_to} --online-size {args.online_size}",
        rows,
    )
    print(table(report))


def table(r: dict) -> str:
    rows = [
        "| charge points | sessions | with a minimum | `schedule` s | peak MiB | energy vs "
        "relaxation | cost vs relaxation | `--exact` s | energy vs exact | cost vs exact |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for x in r["results"]:
        exact = x.get("exact")
        rows.append(
            f"| {x['charge_points']} | {x['sessions']} | {x['with_minimum_power']} | "
            f"{x['flow']['seconds']} | {x['flow']['peak_mib']} | {x['energy_vs_relaxation']} | "
            f"{x['cost_vs_relaxation']} | {exact['seconds'] if exact else '-'} | "
            f"{x.get('energy_vs_exact', '-')} | {x.get('cost_vs_exact', '-')} |"
        )
    online = [x for x in r["results"] if "online_replan_s" in x]
    for x in online:
        o = x["online_replan_s"]
        rows += [
            "",
            f"Online scheduler at {x['charge_points']} charge points: {o['replans']} re-plans, "
            f"median {o['median']} s, slowest {o['max']} s.",
        ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
