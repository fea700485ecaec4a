"""`sigecve up`: the whole system, until Ctrl-C or SIGTERM (composition/system.py)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

HELP = "start the whole system (Ctrl-C stops it)"


def add_arguments(up: argparse.ArgumentParser) -> None:
    up.add_argument("--host", help="HTTP host of every endpoint (SIGECVE_HOST)")
    up.add_argument("--port", type=int, help="HTTP port of every endpoint (SIGECVE_PORT)")
    up.add_argument("--demo-cps", type=int, help="simulated demo charge points (DEMO_CPS)")
    up.add_argument("--ray-address", help="join this Ray cluster instead of a local one")
    up.add_argument("--database-url", help="external PostgreSQL instead of the embedded one")


def run(args: argparse.Namespace) -> int:
    from composition.system import run_until_signalled
    from sigecve.settings import Settings

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
