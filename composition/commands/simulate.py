"""`sigecve simulate`: a fleet of simulated charge points (sigecve/simulator/)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from composition.commands import CLI
from sigecve.simulator.failure_modes import FAILURE_MODES

HELP = "a fleet of simulated charge points"


def add_arguments(sim: argparse.ArgumentParser) -> None:
    sim.add_argument(
        "--url",
        required=True,
        action="append",
        help="OCPP endpoint, e.g. ws://127.0.0.1:8000/ocpp; repeated or a comma list, the "
        "chargers spread over them and reconnect to the next one after a loss",
    )
    sim.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run the fleet as this many processes (each has its own open-file limit)",
    )
    sim.add_argument("--part", default="0/1", help=argparse.SUPPRESS)
    sim.add_argument("--progress-file", help=argparse.SUPPRESS)
    sim.add_argument("--count", type=int, default=1, help="number of charge points")
    sim.add_argument(
        "--ocpp", default="1.6", choices=["1.6", "2.0.1", "2.1"], help="protocol of all"
    )
    sim.add_argument(
        "--share-201", type=float, default=0.0, help="with --ocpp 1.6: share speaking 2.0.1"
    )
    sim.add_argument(
        "--share-21", type=float, default=0.0, help="with --ocpp 1.6: share speaking 2.1"
    )
    sim.add_argument("--ca-file", help="CA certificate to trust for wss:// (self-signed servers)")
    sim.add_argument(
        "--password-template", help="HTTP Basic password per charge point; {id} is its id"
    )
    sim.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    sim.add_argument("--id-prefix", default="SIM-", help="charge point ids are PREFIX001...")
    sim.add_argument("--id-tags", default="DEMO-TAG", help="comma-separated id tags drivers use")
    sim.add_argument("--connectors", type=int, default=2)
    sim.add_argument(
        "--meter-interval", type=float, help="seconds (default 10; 60 with --realistic)"
    )
    sim.add_argument(
        "--realistic",
        action="store_true",
        help="a day's behaviour: meter values every 60 s, sessions of 0.5-3 h, idle 15 min-4 h",
    )
    sim.add_argument(
        "--charging-at-start",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="this share of the charge points starts a session on connector 1 as soon as it "
        "boots (0-1; --realistic with 0.33 is a fleet a third of which is charging)",
    )
    sim.add_argument(
        "--ramp", type=float, default=0.0, help="connect the charge points evenly over S seconds"
    )
    sim.add_argument(
        "--storm-after",
        type=float,
        help="after S seconds all lose their connections (no closing handshake) and reconnect "
        "at once: a reconnection storm",
    )
    sim.add_argument(
        "--report",
        help="also write the JSON report to this file, with each charger's ledger (what the "
        "CSMS acknowledged to it, for `sigecve lab check`)",
    )
    sim.add_argument("--seed", type=int, help="random seed for a repeatable run")
    sim.add_argument(
        "--failure",
        choices=FAILURE_MODES,
        help="some charge points degrade in this mode (precursors), then fault",
    )
    sim.add_argument(
        "--failure-share", type=float, default=0.1, help="share of the fleet that fails"
    )
    sim.add_argument(
        "--failure-after", type=float, default=60.0, help="seconds before degrading starts"
    )
    sim.add_argument(
        "--precursor", type=float, default=600.0, help="seconds of degradation before the fault"
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sigecve.simulator.charge_point import REALISTIC, SimulationProfile
    from sigecve.simulator.fleet import charge_point_ids, failing, run_fleet

    for flag, share in (
        ("--share-201", args.share_201),
        ("--share-21", args.share_21),
        ("--charging-at-start", args.charging_at_start),
    ):
        if not 0.0 <= share <= 1.0:
            print(f"sigecve simulate: {flag} must be between 0 and 1", file=sys.stderr)
            return 2
    if args.share_201 + args.share_21 > 1.0 + 1e-9:
        print("sigecve simulate: --share-201 and --share-21 add up to more than 1", file=sys.stderr)
        return 2
    # (share speaking 2.0.1, share speaking 2.1); --ocpp 2.0.1 or 2.1 makes the whole fleet so.
    shares = {"1.6": (args.share_201, args.share_21), "2.0.1": (1.0, 0.0), "2.1": (0.0, 1.0)}
    share_201, share_21 = shares[args.ocpp]
    ssl_context = None
    if args.ca_file:
        import ssl

        ssl_context = ssl.create_default_context(cafile=args.ca_file)
    behaviour = {
        "connectors": args.connectors,
        "id_tags": tuple(t for t in args.id_tags.split(",") if t),
        "charging_at_start": args.charging_at_start,
    }
    if args.meter_interval is not None:
        behaviour["meter_interval_s"] = args.meter_interval
    profile = replace(REALISTIC if args.realistic else SimulationProfile(), **behaviour)
    if not 0.0 <= args.failure_share <= 1.0:
        print("sigecve simulate: --failure-share must be between 0 and 1", file=sys.stderr)
        return 2
    failures = (
        failing(
            charge_point_ids(args.id_prefix, args.count),
            args.failure,
            args.failure_share,
            args.failure_after,
            args.precursor,
            args.seed,
        )
        if args.failure
        else {}
    )

    urls = [u.strip() for given in args.url for u in given.split(",") if u.strip()]
    if not urls:
        print("sigecve simulate: --url is empty", file=sys.stderr)
        return 2
    part = _part(args.part)
    if part is None:
        print("sigecve simulate: --part must be I/N with 0 <= I < N", file=sys.stderr)
        return 2
    if args.processes < 1:
        print("sigecve simulate: --processes must be at least 1", file=sys.stderr)
        return 2
    if args.processes > 1:
        from rich.console import Console

        from sigecve.simulator.processes import run_in_processes

        child_argv = _without_options(args.simulate_argv, {"--processes", "--report"})
        try:
            full = run_in_processes(
                [*CLI, "simulate", *child_argv],
                args.processes,
                args.count,
                Console(stderr=True),
            )
        except RuntimeError as e:
            print(f"sigecve simulate: {e}", file=sys.stderr)
            return 1
        return _simulation_done(full, args.report)

    progress = None
    if args.progress_file:
        from sigecve.simulator.processes import counters_raw, write_atomically

        def progress(counters, storm) -> None:
            write_atomically(Path(args.progress_file), counters_raw(counters, storm))

    async def simulate() -> dict:
        # Ctrl-C or SIGTERM end the run early, with its report.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await run_fleet(
            urls,
            args.count,
            password_template=args.password_template,
            id_prefix=args.id_prefix,
            duration_s=args.duration,
            profile=profile,
            seed=args.seed,
            share_201=share_201,
            share_21=share_21,
            ssl_context=ssl_context,
            failures=failures,
            ramp_s=args.ramp,
            storm_after_s=args.storm_after,
            stop=stop,
            part=part,
            ledger=bool(args.report),
            progress=progress,
        )

    # A process of several leaves the verdict to its parent, which sees them all.
    return _simulation_done(asyncio.run(simulate()), args.report, judge=part[1] == 1)


def _simulation_done(report: dict, report_path: str | None, *, judge: bool = True) -> int:
    """The report written (in full, ledgers included) and printed (without the ledgers);
    non-zero if no charger ever booted: a wrong URL or a CSMS that is down."""
    if report_path:
        Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k not in ("chargers", "raw")}
    print(json.dumps(summary, indent=2))
    if judge and report["charge_points"] and not report["boots"]:
        print(f"sigecve simulate: no charge point booted ({report['last_error']})", file=sys.stderr)
        return 1
    return 0


def _part(text: str) -> tuple[int, int] | None:
    """`I/N`: this process runs every N-th charger from the I-th."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        return None
    return (i, n) if 0 <= i < n else None


def _without_options(argv: list[str], names: set[str]) -> list[str]:
    """`argv` without the named options and their values (`--x v` or `--x=v`)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif arg.split("=", 1)[0] not in names:
            kept.append(arg)
    return kept
