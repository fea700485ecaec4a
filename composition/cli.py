"""The `sigecve` command: one subcommand per module of composition/commands/."""

from __future__ import annotations

import argparse
import logging
import sys

from composition.commands import ask, lab, ml, schedule, simulate, up

COMMANDS = {
    "up": up,
    "simulate": simulate,
    "schedule": schedule,
    "ask": ask,
    "ml": ml,
    "lab": lab,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigecve", description="SIGEC-VE charging station management system"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # A simulation run as several processes starts its children with its own arguments.
    if args.command == "simulate":
        args.simulate_argv = argv[argv.index("simulate") + 1 :]
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
