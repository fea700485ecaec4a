"""`sigecve schedule`: an offline smart-charging plan for a scenario file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

HELP = "offline smart-charging plan for a scenario"


def add_arguments(sched: argparse.ArgumentParser) -> None:
    sched.add_argument("--scenario", required=True, help="scenario JSON (contracts/scenario)")
    sched.add_argument("--out", required=True, help="where to write the plan JSON")
    sched.add_argument(
        "--exact",
        action="store_true",
        help="solve with HiGHS's exact MILP instead of the network flow (slow at scale)",
    )
    sched.add_argument(
        "--time-limit",
        type=float,
        help="with --exact: seconds for HiGHS; then the equal-share fallback",
    )


def run(args: argparse.Namespace) -> int:
    from sigecve.smart_charging.planner import plan
    from sigecve.smart_charging.scenario import Scenario

    try:
        raw = json.loads(Path(args.scenario).read_text())
    except OSError as e:
        print(f"sigecve schedule: cannot read {args.scenario}: {e.strerror}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"sigecve schedule: {args.scenario} is not JSON: {e}", file=sys.stderr)
        return 2
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as e:
        print(f"sigecve schedule: invalid scenario {args.scenario}:", file=sys.stderr)
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(scenario)"
            print(f"  {where}: {err['msg']}", file=sys.stderr)
        return 2
    result = plan(scenario, exact=args.exact, time_limit_s=args.time_limit)
    Path(args.out).write_text(result.model_dump_json(indent=2) + "\n")
    summary = result.summary
    print(
        f"{scenario.name}: {summary.energy_kwh:.1f} of {summary.requested_kwh:.1f} kWh, "
        f"cost {summary.cost:.2f}, peak {summary.peak_kw:.1f} kW, {summary.status}, "
        f"{result.solver_seconds:.2f} s -> {args.out}"
    )
    if summary.discharged_kwh is not None:
        print(
            f"vehicle-to-grid: {summary.discharged_kwh:.1f} kWh discharged, "
            f"{summary.exported_kwh:.1f} kWh exported for {summary.export_revenue:.2f}, "
            f"battery wear {summary.wear_cost:.2f} (in the cost)"
        )
    if summary.shortfalls:
        short = sum(summary.shortfalls.values())
        reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in summary.shortfalls.items())
        print(
            f"{short} of {len(result.sessions)} sessions get less than they asked ({reasons}); "
            "each session's shortfall_kwh and shortfall_reason are in the plan"
        )
    return 0
