"""MCP prompts (the operator's common jobs, from `sigecve/prompts.py`) and completions of the
ids an operator types."""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import Completion, CompletionArgument, PromptReference, ResourceTemplateReference

from serve_deployments.mcp_tools.base import Tools
from sigecve import prompts

COMPLETIONS = 100


def completion_kind(
    ref: PromptReference | ResourceTemplateReference, argument: str
) -> Literal["charge_point", "site", "transaction"] | None:
    if isinstance(ref, ResourceTemplateReference) and argument == "id":
        if ref.uri.startswith("sigecve://charge-points/"):
            return "charge_point"
        if ref.uri.startswith("sigecve://sites/"):
            return "site"
        if ref.uri.startswith("sigecve://transactions/"):
            return "transaction"
        return None
    return {"charge_point_id": "charge_point", "site_id": "site"}.get(argument)  # type: ignore[return-value]


def register(tools: Tools) -> None:
    server, api = tools.server, tools.api

    @server.prompt(title="Diagnose a site")
    def diagnose_site(site_id: str) -> str:
        """Which charge points at a site are faulted, offline or at risk, why, and what to do."""
        return prompts.diagnose_site_prompt(site_id)

    @server.prompt(title="Reset a charger and confirm it is back")
    def reset_and_confirm(charge_point_id: str) -> str:
        """Reset a charge point safely and report when it has reconnected."""
        return prompts.reset_and_confirm_prompt(charge_point_id)

    @server.prompt(title="Cap a site's power")
    def cap_site(site_id: str, max_power_kw: str, until: str = "") -> str:
        """Cap a site's grid power, show the new plan, and remember when to lift it."""
        return prompts.cap_site_prompt(site_id, max_power_kw, until)

    @server.prompt(title="Energy of the last week")
    def weekly_energy(site_id: str = "") -> str:
        """Energy, sessions and revenue per day over the last 7 days."""
        return prompts.daily_energy_prompt(site_id)

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: Any,
    ) -> Completion | None:
        """Ids as the operator types them: charge points, sites, transactions."""
        kind = completion_kind(ref, argument.name)
        if kind is None:
            return None
        lookup = {
            "charge_point": api.repos.charge_points.ids_starting_with,
            "site": api.repos.sites.ids_starting_with,
            "transaction": api.repos.transactions.ids_starting_with,
        }[kind]
        values = await lookup(argument.value, COMPLETIONS)
        return Completion(values=values, has_more=len(values) == COMPLETIONS)
