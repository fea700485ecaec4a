"""The operator REST API at `/api/v1` (FastAPI in a Serve deployment over the service layer)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve_deployments.context import ApiContext, open_api_context
from serve_deployments.rest_routes import (
    admin,
    assistant,
    charge_points,
    cluster,
    device_model,
    id_tags,
    live,
    onboarding,
    reports,
    sites,
    transactions,
)
from serve_deployments.rest_routes.common import AuthError, ErrorResponse
from sigecve.assistant import AssistantConfig
from sigecve.db.repositories import Repositories
from sigecve.services import audit
from sigecve.services.cluster import ClusterView
from sigecve.services.errors import ServiceError, Unavailable, as_service_error
from sigecve.services.live_events import LiveFeed
from sigecve.settings import Settings

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_AUDITED_BODY = 64 * 1024


class HealthReport(BaseModel):
    status: str
    components: dict[str, str]


HEALTH_PROBE_TIMEOUT_S = 0.8  # the whole report within a second: a load balancer's probe


async def _probed(probe: Callable[[], Awaitable[None]]) -> str:
    """ "ok", or what is wrong, within HEALTH_PROBE_TIMEOUT_S."""
    try:
        await asyncio.wait_for(probe(), HEALTH_PROBE_TIMEOUT_S)
        return "ok"
    except TimeoutError:
        return f"down: no answer within {HEALTH_PROBE_TIMEOUT_S} s"
    except Exception as e:
        return f"down: {type(e).__name__}: {e}"[:400]


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


class AuditMiddleware:
    """Records every write (POST, PUT, PATCH, DELETE) with the caller and its outcome, before
    the answer leaves: a write the log does not hold is not answered."""

    def __init__(self, app: ASGIApp, repos: Repositories) -> None:
        self.app = app
        self.repos = repos

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        recorded = False

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < MAX_AUDITED_BODY:
                body.extend(message.get("body", b"")[: MAX_AUDITED_BODY - len(body)])
            return message

        async def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            await audit.record(
                self.repos,
                principal=scope.get("state", {}).get("principal"),
                interface="rest",
                method=scope["method"],
                target=target,
                status=status,
                details=_request_details(bytes(body)),
            )

        async def send_after_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                await record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_after_recording)
        except Exception:
            if not recorded:
                await record(500)
            raise


def _request_details(body: bytes) -> dict | None:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"body": body[:500].decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"body": parsed}


def build_rest_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="SIGEC-VE operator API",
        version="1",
        description="Charge points, sites, id tags, transactions, reservations, charging "
        "profiles, remote commands, reports, alerts and a live event stream of a SIGEC-VE "
        "network. Authenticate with `Authorization: Bearer <token>`; roles are viewer "
        "(read), operator (run the network) and admin (tokens, raw OCPP, firmware, deletes). "
        "Lists page with `cursor` (from `next_cursor`) and `limit`, and sort with `sort` "
        '(`-` first for descending). Errors are `{"error": {"code", "message"}}`.',
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        responses={
            401: {"model": ErrorResponse, "description": "missing or unknown token"},
            403: {"model": ErrorResponse, "description": "the token's role is not enough"},
            422: {"model": ErrorResponse, "description": "invalid input"},
            503: {"model": ErrorResponse, "description": "the database is unavailable just now"},
        },
    )
    app.add_middleware(AuditMiddleware, repos=ctx.repos)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.http_status, exc.code, exc.message)

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                reason = (err.get("ctx") or {}).get("error", "")
                parts.append(f"body: not valid JSON ({reason})" if reason else "body: not JSON")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(422, "invalid_input", "; ".join(parts) or "invalid request")

    @app.exception_handler(psycopg.Error)
    async def database_error(_: Request, exc: psycopg.Error) -> JSONResponse:
        mapped = as_service_error(exc)
        if mapped is None:
            log.exception("unhandled database error in the REST API")
            return _error(500, "internal_error", "internal error; the incident has been logged")
        if isinstance(mapped, Unavailable):
            log.warning("database unavailable: %s", exc)
            return _error(503, mapped.code, mapped.message, {"Retry-After": "5"})
        return _error(mapped.http_status, mapped.code, mapped.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8, truncated form data):
            # bad input like any other, so the same status and code as a schema violation.
            return _error(422, "invalid_input", f"body: {exc.detail} (send UTF-8 JSON)")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        # Ray wraps errors raised in actors; a ServiceError keeps its class through the wrap.
        if isinstance(exc, ServiceError):
            return _error(exc.http_status, exc.code, exc.message)
        log.exception("unhandled error in the REST API")
        return _error(500, "internal_error", "internal error; the incident has been logged")

    @app.get("/health", response_model=HealthReport, tags=["system"])
    async def health() -> JSONResponse:
        """No auth. 200 when the database, Ray and every deployment answer, else 503."""
        names = list(ctx.health_probes)
        outcomes = await asyncio.gather(
            *(_probed(ctx.health_probes[name]) for name in names), return_exceptions=True
        )
        components = dict(zip(names, outcomes, strict=True))
        healthy = all(v == "ok" for v in components.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "components": components},
            status_code=200 if healthy else 503,
        )

    for module in (
        charge_points,
        device_model,
        onboarding,
        id_tags,
        transactions,
        sites,
        reports,
        admin,
        live,
        assistant,
        cluster,
    ):
        app.include_router(module.router(ctx))
    return app


@serve.deployment(
    name="RestApi",
    max_ongoing_requests=200,
    graceful_shutdown_timeout_s=5,
    ray_actor_options={"num_cpus": 0},
)
@serve.ingress()
class RestApi:
    async def __init__(self, settings: Settings, database_url: str) -> None:
        self.ctx = await open_api_context(settings, database_url)
        self._database_url = database_url
        self._pool_check: asyncio.Task | None = None
        self.ctx.live = LiveFeed(database_url)
        self.ctx.assistant = AssistantConfig(
            mcp_url=f"{settings.public_http_url}/mcp",
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            model=settings.llm_model,
            verify_tls=False,  # its own endpoint, on its own (maybe self-signed) certificate
        )
        self.ctx.cluster = self._cluster
        self.ctx.health_probes = {
            "database": self._probe_database,
            "ray": self._probe_ray,
            "deployments": self._probe_deployments,
            "charge_point_hosts": self._probe_charge_point_hosts,
        }

    async def _probe_database(self) -> None:
        pool = self.ctx.repos.pool
        try:
            try:
                async with pool.connection(timeout=0.4) as conn:
                    await conn.execute("SELECT 1")
            except psycopg_pool.PoolTimeout:
                # Just after a database restart the pool may still hold only broken
                # connections, or be waiting out a reconnection delay: the database is up if
                # a connection of our own opens, and the pool is told to check its own.
                async with await psycopg.AsyncConnection.connect(
                    self._database_url, connect_timeout=1, autocommit=True
                ) as conn:
                    await conn.execute("SELECT 1")
                self._pool_check = asyncio.create_task(pool.check())
        except Exception as e:
            # The embedded server's supervisor says whether it is being started again.
            from actors.database_supervisor import database_supervisor

            supervisor = await asyncio.to_thread(database_supervisor)
            if supervisor is None:
                raise
            state = await asyncio.wait_for(supervisor.describe.remote(), 0.3)
            raise RuntimeError(f"{type(e).__name__}: {e}; {state}") from e

    async def _probe_ray(self) -> None:
        import ray

        # Ray's and Serve's calls block: in a thread, so the probe's time limit holds.
        if not any(node["Alive"] for node in await asyncio.to_thread(ray.nodes)):
            raise RuntimeError("no live Ray node")

    async def _probe_deployments(self) -> None:
        status = await asyncio.to_thread(serve.status)
        bad = [
            f"{app_name}/{name}: {dep.status}"
            for app_name, app_status in status.applications.items()
            for name, dep in app_status.deployments.items()
            if dep.status != "HEALTHY"
        ]
        if bad:
            raise RuntimeError(", ".join(bad))

    async def _cluster(self) -> ClusterView:
        from actors.cluster_view import gather_cluster_view

        return await gather_cluster_view(self.ctx.directory.hosts)

    async def _probe_charge_point_hosts(self) -> None:
        await asyncio.gather(*(host.stats.remote() for host in self.ctx.directory.hosts))

    def __serve_build_asgi_app__(self) -> FastAPI:
        return build_rest_app(self.ctx)
