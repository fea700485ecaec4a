"""`sigecve lab`: a Ray cluster of several nodes on this machine (sigecve/lab/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from composition.commands import CLI

FAULT_USAGE = "kill NODE | partition NODE | loss PCT NODE | slow RATE NODE | heal NODE"

HELP = "a Ray cluster of several nodes on this machine (Linux, root)"


def add_arguments(lab: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    """The multi-node lab: one line per answer on stdout, progress on stderr."""
    import os

    from sigecve.lab.cluster import Lab
    from sigecve.lab.netns import LabError
    from sigecve.settings import Settings

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    lab = Lab(Settings().var_dir, os.environ, say, cli=CLI)
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
