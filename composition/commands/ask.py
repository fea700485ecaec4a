"""`sigecve ask`: the operator assistant (Claude over SIGEC-VE's MCP tools) in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

HELP = "the operator assistant (Claude over SIGEC-VE's MCP tools)"


def add_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("question", help='e.g. "which chargers at site porto-3 are faulted?"')
    ask.add_argument("--url", help="SIGEC-VE's HTTP address (default: SIGECVE_HOST/PORT)")
    ask.add_argument(
        "--token", help="API token (default: SIGECVE_TOKEN, SIGECVE_ADMIN_TOKEN, var/admin_token)"
    )
    ask.add_argument("--yes", action="store_true", help="approve proposed actions unasked")


def run(args: argparse.Namespace) -> int:
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
