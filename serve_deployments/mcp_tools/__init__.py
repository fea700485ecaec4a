"""The MCP surface: tools, resources, prompts and completions over the same service layer as
the REST API, one module per resource as `rest_routes/` has them. Every tool checks the
caller's role, is audit-logged, and turns service errors into tool errors (`base.Tools`)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from serve_deployments.context import ApiContext
from serve_deployments.mcp_tools import (
    charge_points,
    device_model,
    onboarding,
    prompts,
    reports,
    resources,
    sites,
    transactions,
)
from serve_deployments.mcp_tools.base import Tools

MODULES = (
    charge_points,
    device_model,
    onboarding,
    transactions,
    sites,
    reports,
    resources,
    prompts,
)


def register(server: MCPServer, api: ApiContext) -> None:
    """Every tool, resource, prompt and completion of SIGEC-VE on `server`."""
    tools = Tools(server, api)
    for module in MODULES:
        module.register(tools)
