"""What every MCP tool shares: the decorator that checks the caller's role, audits the call
and turns service errors into tool errors (`isError`) the model can read; the annotations;
the parameter types with their descriptions (the bounds are REST's, from
`sigecve/services/parameters.py`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from serve_deployments.context import ApiContext
from sigecve.domain import Principal
from sigecve.services import audit, parameters
from sigecve.services.api_tokens import Role, role_allows
from sigecve.services.errors import as_service_error

T = TypeVar("T")

ChargePointId = Annotated[
    parameters.ChargePointId, Field(description="the charge point's id, e.g. CP-12")
]
SiteId = Annotated[parameters.SiteId, Field(description="the site's id")]
TransactionRef = Annotated[
    int,
    Field(ge=1, le=2**63 - 1, description="SIGEC-VE's id of the transaction (`id` in lists)"),
]
ConnectorId = Annotated[
    int, Field(ge=1, le=2**31 - 1, description="connector (OCPP 1.6) or EVSE (OCPP 2.0.1)")
]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def changes(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Annotations of a tool that changes the network (the chargers are the open world)."""
    return ToolAnnotations(
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=True,
    )


def principal_of(ctx: Context) -> Principal:
    request = ctx.request_context.request
    principal = getattr(getattr(request, "state", None), "principal", None)
    if principal is None:  # the auth middleware lets no request through without one
        raise ToolError("unauthorized: no bearer token")
    return principal


class Tools:
    """The MCP server being built and the services its tools call."""

    def __init__(self, server: MCPServer, api: ApiContext) -> None:
        self.server = server
        self.api = api

    def tool(
        self, role: Role, annotations: ToolAnnotations, title: str
    ) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
        """Register a tool that `role` may call: checked, audit-logged, errors as tool errors."""

        def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            @functools.wraps(fn)
            async def run(**kwargs: Any) -> T:
                ctx: Context = kwargs["ctx"]
                principal = principal_of(ctx)
                status = 200
                try:
                    if not role_allows(principal.role, role):
                        status = 403
                        raise ToolError(f"forbidden: {fn.__name__} needs the {role.value} role")
                    return await fn(**kwargs)
                except ToolError:
                    raise
                except Exception as e:
                    mapped = as_service_error(e)  # the same mapping as REST's
                    if mapped is None:
                        status = 500
                        raise
                    status = mapped.http_status
                    raise ToolError(f"{mapped.code}: {mapped.message}") from e
                finally:
                    arguments = {k: v for k, v in kwargs.items() if k != "ctx"}
                    await audit.record(
                        self.api.repos,
                        principal=principal,
                        interface="mcp",
                        method="tools/call",
                        target=fn.__name__,
                        status=status,
                        details=to_jsonable_python(arguments),
                    )

            self.server.add_tool(run, title=title, annotations=annotations)
            return run

        return decorate

    async def read_as(
        self, ctx: Context, role: Role, read: Callable[[], Awaitable[BaseModel]]
    ) -> str:
        """A resource's JSON, if the caller's role allows it; service errors as resource
        errors."""
        if not role_allows(principal_of(ctx).role, role):
            raise ResourceError(f"forbidden: this resource needs the {role.value} role")
        try:
            return (await read()).model_dump_json(indent=1)
        except Exception as e:
            mapped = as_service_error(e)
            if mapped is None:
                raise
            raise ResourceError(f"{mapped.code}: {mapped.message}") from e
