"""The `sigecve` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from sigecve.simulator.failure_modes import FAILURE_MODES


def _up(args: argparse.Namespace) -> int:
    from sigecve.settings import Settings
    from sigecve.system import run_until_signalled

    overrides = {
        "host": args.host,
        "port": args.port,
        "demo_cps": args.demo_cps,
        "ray_address": args.ray_address,
        "database_url": args.database_url,
    }
    try:
        settings = Settings()
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        print(f"sigecve up: invalid configuration: {e}", file=sys.stderr)
        return 2
    return run_until_signalled(settings)


def _simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sigecve.simulator.charge_point import REALISTIC, SimulationProfile
    from sigecve.simulator.fleet import charge_point_ids, failing, run_fleet

    for flag, share in (
        ("--share-201", args.share_201),
        ("--charging-at-start", args.charging_at_start),
    ):
        if not 0.0 <= share <= 1.0:
            print(f"sigecve simulate: {flag} must be between 0 and 1", file=sys.stderr)
            return 2
    share_201 = 1.0 if args.ocpp == "2.0.1" else args.share_201
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
            full = run_in_processes(child_argv, args.processes, args.count, Console(stderr=True))
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


def _schedule(args: argparse.Namespace) -> int:

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
    result = plan(scenario, time_limit_s=args.time_limit)
    Path(args.out).write_text(result.model_dump_json(indent=2) + "\n")
    summary = result.summary
    print(
        f"{scenario.name}: {summary.energy_kwh:.1f} of {summary.requested_kwh:.1f} kWh, "
        f"cost {summary.cost:.2f}, peak {summary.peak_kw:.1f} kW, {summary.status}, "
        f"{result.solver_seconds:.2f} s -> {args.out}"
    )
    return 0


def _ask(args: argparse.Namespace) -> int:
    from sigecve.assistant import Assistant, AssistantConfig, next_turn
    from sigecve.services.errors import ServiceError
    from sigecve.settings import Settings

    settings = Settings()
    token = args.token or settings.api_token or settings.admin_token
    token_file = settings.var_dir / "admin_token"
    if token is None and token_file.exists():
        token = token_file.read_text().strip()
    if token is None:
        print("sigecve ask: give a token (--token or SIGECVE_TOKEN)", file=sys.stderr)
        return 2
    config = AssistantConfig(
        mcp_url=f"{(args.url or settings.public_http_url).rstrip('/')}/mcp",
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        model=settings.llm_model,
    )
    try:
        assistant = Assistant(config, token)
        turn = next_turn(args.question)
    except ServiceError as e:
        print(f"sigecve ask: {e.message}", file=sys.stderr)
        return 2
    return asyncio.run(_converse(assistant, turn, args.yes))


async def _converse(assistant, turn, auto_approve: bool) -> int:
    """Print the assistant's answer; ask the operator before any destructive action."""
    from sigecve.assistant import next_turn

    while True:
        outcome = None
        async for event in assistant.run(turn):
            if event.type == "text":
                print(event.text)
            elif event.type == "tool_call":
                print(f"  -> {event.tool} {json.dumps(event.arguments)}", file=sys.stderr)
            elif event.type == "tool_result":
                if event.is_error:
                    print(f"  <- {event.tool}: {event.text}", file=sys.stderr)
            else:
                outcome = event  # done, confirmation_required or error: always the last
        if outcome is None or outcome.type == "error":
            print(f"sigecve ask: {outcome.text if outcome else 'no answer'}", file=sys.stderr)
            return 1
        if outcome.type == "done":
            return 0
        print("The assistant proposes:")
        for action in outcome.pending or []:
            print(f"  {action.title or action.tool}: {action.tool} {json.dumps(action.arguments)}")
        turn = next_turn(None, outcome.state, _operator_approves(auto_approve))


def _operator_approves(auto_approve: bool) -> bool:
    if auto_approve:
        print("Approved (--yes).")
        return True
    if not sys.stdin.isatty():
        print("Declined: not approved (run in a terminal to answer, or pass --yes).")
        return False
    return input("Run it? [y/N] ").strip().lower() in ("y", "yes")


def _ml(args: argparse.Namespace) -> int:
    """Failure prediction: generate or export telemetry, train, evaluate, score."""

    import pandas as pd

    from ml.model import ModelStore, score, train
    from ml.telemetry import TelemetryError, load
    from sigecve.settings import Settings

    settings = Settings()
    store = ModelStore(Path(args.models) if args.models else settings.var_dir / "models")
    horizon = pd.Timedelta(hours=args.horizon_hours)
    try:
        if args.ml_command == "generate":
            from ml.generate import FleetSpec, generate

            spec = FleetSpec(charge_points=args.charge_points, days=args.days, seed=args.seed)
            generate(spec).save(Path(args.out))
            print(f"{args.charge_points} charge points x {args.days} days -> {args.out}")
        elif args.ml_command == "export":
            from ml.export import export

            url = _database_url(args, settings)
            if url is None:
                return 2
            since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=args.days)
            export(url, since).save(Path(args.out))
            print(f"telemetry of the last {args.days} days -> {args.out}")
        elif args.ml_command in ("train", "evaluate"):
            model, report = train(load(Path(args.data)), horizon, seed=args.seed)
            if args.ml_command == "train":
                print(f"model {model.version} -> {store.save(model)}")
            if args.report:
                Path(args.report).write_text(json.dumps(report, indent=2, default=str) + "\n")
            print(evaluation_table(report))
        elif args.ml_command == "deploy":
            from ml.deploy import deploy

            url = _database_url(args, settings)
            if url is None:
                return 2
            model = store.load(args.version)
            print(f"model {deploy(model, url)} deployed to the scoring actors")
        else:
            scores = score(store.load(args.version), load(Path(args.data)))
            out = Path(args.out)
            if out.suffix == ".csv":
                scores.to_csv(out, index=False)
            else:
                scores.to_parquet(out, index=False)
            alerts = int(scores["alert"].sum())
            print(f"{len(scores)} charge points scored, {alerts} above the alert threshold")
    except (TelemetryError, FileNotFoundError) as e:
        print(f"sigecve ml {args.ml_command}: {e}", file=sys.stderr)
        return 2
    return 0


def _database_url(args: argparse.Namespace, settings) -> str | None:
    """--database-url, else DATABASE_URL, else the one a local `sigecve up` wrote in var/."""
    url = args.database_url or settings.database_url
    written = settings.var_dir / "database_url"
    if url is None and written.is_file():
        url = written.read_text().strip()
    if url is None:
        print(
            f"sigecve ml {args.ml_command}: give --database-url (or DATABASE_URL), or run "
            "where `sigecve up` keeps its var/ directory",
            file=sys.stderr,
        )
    return url


def evaluation_table(report: dict) -> str:
    """The test period's metrics, the model beside the error-code-count rule (Markdown)."""
    model, rule = report["model"], report["baseline_error_code_count"]
    rows = [
        ("PR-AUC", "pr_auc"),
        ("prevalence", "prevalence"),
        ("ROC-AUC", "roc_auc"),
        ("alert threshold (chosen on validation)", "threshold"),
        ("precision at threshold", "precision_at_threshold"),
        ("recall at threshold", "recall_at_threshold"),
        ("event recall (failures alerted before)", "event_recall"),
        ("failures in the test period", "failures"),
        ("mean lead time, hours", "mean_lead_time_hours"),
        ("false alerts per charger-year", "false_alerts_per_charger_year"),
    ]
    lines = ["| test period | model | error-code count rule |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {model[key]} | {rule[key]} |" for label, key in rows]
    for mode in sorted(model["recall_by_mode"]):
        lines.append(
            f"| event recall, {mode} | {model['recall_by_mode'][mode]} | "
            f"{rule['recall_by_mode'].get(mode)} |"
        )
    return "\n".join(lines)


def _lab(args: argparse.Namespace) -> int:
    """The multi-node lab: one line per answer on stdout, progress on stderr."""
    import os

    from sigecve.lab.cluster import Lab
    from sigecve.lab.netns import LabError
    from sigecve.settings import Settings

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    lab = Lab(Settings().var_dir, os.environ, say)
    try:
        if args.lab_command == "up":
            state = lab.up(args.nodes, args.subnet, args.port, args.chargers)
            print("SIGEC-VE lab ready")
            for node in state.topology.nodes:
                print(f"node {node.name} {node.ip} {state.ws_url(node.ip)}")
            print(f"api {state.api_url()}")
            print(f"admin_token {state.admin_token}")
            print(
                "(the lab's addresses answer inside its namespaces: "
                "`sigecve lab exec -- COMMAND` runs COMMAND there)",
                file=sys.stderr,
            )
        elif args.lab_command == "down":
            print(lab.down())
        elif args.lab_command == "status":
            report = lab.status()
            print(json.dumps(report, indent=2) if args.json else lab_status_text(report))
        elif args.lab_command == "fault":
            print(_lab_fault(lab, args.fault))
        elif args.lab_command == "check":
            return lab.check(Path(args.report) if args.report else None)
        elif args.lab_command == "exec":
            argv = [a for a in args.argv if a != "--"] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                print("sigecve lab exec: give a command", file=sys.stderr)
                return 2
            command, env = lab.exec_argv(argv)
            os.execvpe(command[0], command, env)
    except (LabError, LookupError, ValueError) as e:
        print(f"sigecve lab {args.lab_command}: {e}", file=sys.stderr)
        return 2
    return 0


FAULT_USAGE = "kill NODE | partition NODE | loss PCT NODE | slow RATE NODE | heal NODE"


def _lab_fault(lab, words: list[str]) -> str:
    """`fault kill|partition|heal NODE`, `fault loss PCT NODE`, `fault slow RATE NODE`."""
    match words:
        case ["kill", node]:
            return lab.kill(node)
        case ["partition", node]:
            return lab.partition(node)
        case ["heal", node]:
            return lab.heal(node)
        case ["loss", percent, node]:
            try:
                value = float(percent.rstrip("%"))
            except ValueError:
                raise ValueError(f"loss takes a percentage, not {percent!r}") from None
            return lab.loss(node, value)
        case ["slow", rate, node]:
            return lab.slow(node, rate)
    raise ValueError(f"fault {' '.join(words)!r}: use one of {FAULT_USAGE}")


def lab_status_text(report: dict) -> str:
    """`sigecve lab status` for people: a line per node, with what Ray says runs on it."""
    cluster = report.get("cluster") or {}
    by_ip = {n["ip"]: n for n in cluster.get("nodes", []) if n.get("alive")}
    lines = [
        f"lab {'ready' if report['ready'] else 'starting'}  subnet {report['subnet']}  "
        f"api {report['api']}"
    ]
    for node in report["nodes"]:
        seen = by_ip.get(node["ip"])
        faults = ", ".join(f"{k} {v}".strip() for k, v in node["faults"].items()) or "none"
        line = f"node {node['name']:<10} {node['ip']:<14} faults: {faults}; "
        if seen is None:
            line += f"not in the cluster ({node['processes']} processes)"
        else:
            # Serve's replicas are "ServeReplica:app:Deployment": the deployment says it.
            actors = ", ".join(
                f"{n} {k.rsplit(':', 1)[-1]}" for k, n in sorted(seen["actors"].items())
            )
            line += (
                f"{seen['charge_points_hosted']} charge points hosted, "
                f"{seen['charge_points_entered']} entered here; actors: {actors}"
            )
        lines.append(line)
    if report.get("cluster_error"):
        lines.append(f"(the system did not answer: {report['cluster_error']})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigecve", description="SIGEC-VE charging station management system"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole system (Ctrl-C stops it)")
    up.add_argument("--host", help="HTTP host of every endpoint (SIGECVE_HOST)")
    up.add_argument("--port", type=int, help="HTTP port of every endpoint (SIGECVE_PORT)")
    up.add_argument("--demo-cps", type=int, help="simulated demo charge points (DEMO_CPS)")
    up.add_argument("--ray-address", help="join this Ray cluster instead of a local one")
    up.add_argument("--database-url", help="external PostgreSQL instead of the embedded one")
    up.set_defaults(func=_up)

    sim = sub.add_parser("simulate", help="a fleet of simulated charge points")
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
    sim.add_argument("--ocpp", default="1.6", choices=["1.6", "2.0.1"], help="protocol of all")
    sim.add_argument(
        "--share-201", type=float, default=0.0, help="with --ocpp 1.6: share speaking 2.0.1"
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
    sim.set_defaults(func=_simulate)

    sched = sub.add_parser("schedule", help="offline smart-charging plan for a scenario")
    sched.add_argument("--scenario", required=True, help="scenario JSON (contracts/scenario)")
    sched.add_argument("--out", required=True, help="where to write the plan JSON")
    sched.add_argument(
        "--time-limit", type=float, help="seconds for the solver; then the equal-share fallback"
    )
    sched.set_defaults(func=_schedule)

    ask = sub.add_parser("ask", help="the operator assistant (Claude over SIGEC-VE's MCP tools)")
    ask.add_argument("question", help='e.g. "which chargers at site porto-3 are faulted?"')
    ask.add_argument("--url", help="SIGEC-VE's HTTP address (default: SIGECVE_HOST/PORT)")
    ask.add_argument(
        "--token", help="API token (default: SIGECVE_TOKEN, SIGECVE_ADMIN_TOKEN, var/admin_token)"
    )
    ask.add_argument("--yes", action="store_true", help="approve proposed actions unasked")
    ask.set_defaults(func=_ask)

    ml = sub.add_parser("ml", help="failure prediction: telemetry, models, scores")
    ml_sub = ml.add_subparsers(dest="ml_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models", help="model store directory (default: var/models)")
    common.add_argument("--horizon-hours", type=float, default=72.0, help="predict this far")
    common.add_argument("--seed", type=int, default=0)
    gen = ml_sub.add_parser("generate", parents=[common], help="a generated fleet's telemetry")
    gen.add_argument("--out", required=True, help="directory for the Parquet tables")
    gen.add_argument("--charge-points", type=int, default=200)
    gen.add_argument("--days", type=int, default=365)
    exp = ml_sub.add_parser("export", parents=[common], help="telemetry from the database")
    exp.add_argument("--out", required=True, help="directory for the Parquet tables")
    exp.add_argument("--days", type=int, default=180, help="how far back")
    exp.add_argument("--database-url", help="default: DATABASE_URL")
    for name, text in (
        ("train", "train, evaluate and store a model"),
        ("evaluate", "train and evaluate without storing"),
    ):
        p = ml_sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--data", required=True, help="directory of the telemetry tables")
        p.add_argument("--report", help="write the evaluation as JSON here")
    dep = ml_sub.add_parser(
        "deploy", parents=[common], help="put a stored model in service on the scoring actors"
    )
    dep.add_argument("--version", help="default: the store's current model")
    dep.add_argument("--database-url", help="default: DATABASE_URL, or var/database_url")
    sc = ml_sub.add_parser("score", parents=[common], help="risk per charge point now")
    sc.add_argument("--data", required=True, help="directory of the telemetry tables")
    sc.add_argument("--out", required=True, help="scores file (.parquet or .csv)")
    sc.add_argument("--version", help="model version (default: the current one)")
    ml.set_defaults(func=_ml)

    lab = sub.add_parser("lab", help="a Ray cluster of several nodes on this machine (Linux, root)")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up_lab = lab_sub.add_parser("up", help="network namespaces, a Ray node in each, the system")
    up_lab.add_argument("--nodes", type=int, default=3, help="Ray nodes, the head included")
    up_lab.add_argument("--subnet", default="10.213.0.0/24", help="the lab's private subnet")
    up_lab.add_argument("--port", type=int, default=8000, help="SIGEC-VE's port on every node")
    up_lab.add_argument(
        "--chargers", type=int, default=0, help="simulated chargers spread over the nodes"
    )
    lab_sub.add_parser("down", help="remove every namespace, rule and process the lab made")
    status = lab_sub.add_parser("status", help="nodes, their faults, actors and chargers")
    status.add_argument("--json", action="store_true")
    check = lab_sub.add_parser(
        "check",
        help="every transaction and meter value acknowledged to a charger stored exactly once",
    )
    check.add_argument(
        "--report",
        help="a `sigecve simulate --report` file (default: end the lab's own chargers and "
        "check theirs)",
    )
    fault = lab_sub.add_parser("fault", help=FAULT_USAGE)
    fault.add_argument("fault", nargs="+", metavar="WORD", help=FAULT_USAGE)
    run = lab_sub.add_parser(
        "exec", help="run a command inside the lab's network (SIGECVE_TOKEN, SIGECVE_LAB_URLS)"
    )
    run.add_argument("argv", nargs=argparse.REMAINDER)
    lab.set_defaults(func=_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # A simulation run as several processes starts its children with its own arguments.
    if args.func is _simulate:
        args.simulate_argv = argv[argv.index("simulate") + 1 :]
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
