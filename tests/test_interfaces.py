"""REST and MCP are two faces of one operation layer: an MCP tool with a REST twin takes the
same parameters with the same bounds (both documents built here, without a server)."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil

import pytest
from mcp.server.mcpserver import MCPServer

from serve_deployments import rest_routes
from serve_deployments.context import ApiContext
from serve_deployments.mcp_tools import register
from serve_deployments.rest_api import build_rest_app

# MCP tool -> (method, REST path): its parameters are the path's, query's and body's.
TWINS = {
    "list_transactions": ("get", "/transactions"),
    "get_charge_point_status": ("get", "/charge-points/{charge_point_id}"),
    "set_site_power_limit": ("put", "/sites/{site_id}/limit"),
    "send_remote_reset": ("post", "/charge-points/{charge_point_id}/reset"),
    "unlock_connector": ("post", "/charge-points/{charge_point_id}/unlock"),
    "change_availability": ("post", "/charge-points/{charge_point_id}/availability"),
    "start_charging_session": ("post", "/charge-points/{charge_point_id}/remote-start"),
    "stop_charging_session": ("post", "/charge-points/{charge_point_id}/remote-stop"),
    "send_ocpp_command": ("post", "/charge-points/{charge_point_id}/commands"),
    "get_failure_risk": ("get", "/charge-points/{charge_point_id}/failure-risk"),
    "diagnose_charge_point": ("get", "/charge-points/{charge_point_id}/diagnosis"),
    "list_available_connectors": ("get", "/connectors/available"),
    "get_charging_plan": ("get", "/sites/{site_id}/plan"),
    "set_site_limit_schedule": ("put", "/sites/{site_id}/limit-schedule"),
    "set_site_price_forecast": ("put", "/sites/{site_id}/prices"),
    "set_session_demand": ("put", "/transactions/{transaction_id}/demand"),
    "get_energy_report": ("get", "/reports/{name}"),
    "open_work_order": ("post", "/charge-points/{charge_point_id}/work-orders"),
    "close_work_order": ("post", "/work-orders/{work_order_id}/restore"),
    "get_charge_point_variables": ("get", "/charge-points/{charge_point_id}/variables"),
    "request_device_model_report": ("post", "/charge-points/{charge_point_id}/variables/report"),
    "find_charge_points_by_variables": ("get", "/variables"),
    "list_pending_charge_points": ("get", "/onboarding/queue"),
    "approve_charge_point": ("post", "/charge-points/{charge_point_id}/approve"),
    "get_variable_monitors": ("get", "/charge-points/{charge_point_id}/monitors"),
    "set_variable_monitor": ("post", "/charge-points/{charge_point_id}/monitors"),
    "clear_variable_monitor": ("delete", "/charge-points/{charge_point_id}/monitors/{monitor_id}"),
    "list_alerts": ("get", "/alerts"),
}
# Where a tool names a parameter for the model rather than as REST's path does.
RENAMED = {
    "stop_charging_session": {"transaction": "id"},
    "set_session_demand": {"transaction": "transaction_id"},
    "close_work_order": {"work_order": "work_order_id"},
}
# REST parameters a tool fixes: it is one report, answers JSON, waits the default time.
REST_ONLY = {
    "list_alerts": {"sort"},
    "get_energy_report": {"name", "format"},
    "send_ocpp_command": {"timeout_s"},
}
BOUNDS = (
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
)

CONTEXT = ApiContext(None, None, None)  # type: ignore[arg-type]
OPENAPI = build_rest_app(CONTEXT).openapi()


def _mcp_tools() -> dict[str, dict]:
    server = MCPServer(name="sigecve")
    register(server, CONTEXT)
    return {t.name: t.input_schema for t in asyncio.run(server.list_tools())}


MCP = _mcp_tools()


def bounds(schema: dict, defs: dict) -> list[str]:
    """What a value must be to be accepted, whatever the document calls or describes it."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    variants = schema.get("anyOf", [schema])
    return sorted(json.dumps({k: _number(v[k]) for k in BOUNDS if k in v}) for v in variants)


def _number(value):
    """1000 and 1000.0 are the same bound (pydantic writes a float field's as a float, and
    2**63 - 1 may come as the float nearest it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    number = float(value)
    return int(number) if number.is_integer() else number


def rest_parameters(method: str, path: str) -> dict[str, list[str]]:
    operation = OPENAPI["paths"][path][method]
    defs = OPENAPI["components"]["schemas"]
    found = {p["name"]: bounds(p["schema"], defs) for p in operation.get("parameters", [])}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
        for name, schema in defs[ref].get("properties", {}).items():
            found[name] = bounds(schema, defs)
    return found


def mcp_parameters(tool: str) -> dict[str, list[str]]:
    schema = MCP[tool]
    defs = schema.get("$defs", {})
    return {name: bounds(s, defs) for name, s in schema.get("properties", {}).items()}


@pytest.mark.parametrize("tool", sorted(TWINS))
def test_an_mcp_tool_takes_its_rest_twins_parameters_and_bounds(tool):
    renamed = RENAMED.get(tool, {})
    mcp = {renamed.get(name, name): found for name, found in mcp_parameters(tool).items()}
    rest = rest_parameters(*TWINS[tool])
    assert mcp == {k: v for k, v in rest.items() if k not in REST_ONLY.get(tool, set())}


def _tool_modules() -> dict[str, str]:
    """Each MCP tool's module under serve_deployments/mcp_tools/."""
    server = MCPServer(name="sigecve")
    found: dict[str, str] = {}
    add_tool = server.add_tool

    def recording(fn, **kwargs):
        found[fn.__name__] = fn.__module__.rsplit(".", 1)[-1]
        return add_tool(fn, **kwargs)

    server.add_tool = recording  # type: ignore[method-assign]
    register(server, CONTEXT)
    return found


def _route_modules() -> dict[tuple[str, str], str]:
    """Each REST operation's module under serve_deployments/rest_routes/."""
    found = {}
    for info in pkgutil.iter_modules(rest_routes.__path__):
        module = importlib.import_module(f"{rest_routes.__name__}.{info.name}")
        if not hasattr(module, "router"):
            continue
        for route in module.router(CONTEXT).routes:
            for method in getattr(route, "methods", None) or ():
                found[(method.lower(), route.path)] = info.name
    return found


@pytest.mark.parametrize("tool", sorted(TWINS))
def test_a_tool_lives_in_the_module_of_its_rest_twin(tool):
    method, path = TWINS[tool]
    assert _tool_modules()[tool] == _route_modules()[(method, path)]
