"""The operator REST API at `/api/v1` (FastAPI in a Serve deployment over the service layer)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.domain import (
    ChargePoint,
    Command,
    CommandResult,
    IdTag,
    LimitSchedule,
    PriceSchedule,
    SessionDemand,
    Site,
    SiteLimit,
    SitePlan,
)
from sigecve.security import hash_api_token
from sigecve.services import charge_points, commands, id_tags, sites, transactions
from sigecve.services.charge_points import ChargePointPage, ChargePointRegistration
from sigecve.services.commands import ChargePointDirectory
from sigecve.services.errors import ServiceError
from sigecve.services.sites import SchedulerDirectory
from sigecve.services.transactions import TransactionPage
from sigecve.settings import Settings

log = logging.getLogger(__name__)

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class HealthReport(BaseModel):
    status: str
    components: dict[str, str]


class ApiContext:
    """What the routes need: repositories, the charge point directory and health probes."""

    def __init__(
        self,
        repos: Repositories,
        directory: ChargePointDirectory,
        schedulers: SchedulerDirectory,
        health_probes: dict[str, Callable[[], Awaitable[None]]],
    ) -> None:
        self.repos = repos
        self.directory = directory
        self.schedulers = schedulers
        self.health_probes = health_probes


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def build_rest_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="SIGEC-VE operator API",
        version="1",
        description="Charge points, id tags, transactions and remote commands of a SIGEC-VE "
        "network. Authenticate with `Authorization: Bearer <token>`.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        responses={
            401: {"model": ErrorResponse, "description": "missing or unknown token"},
            422: {"model": ErrorResponse, "description": "invalid input"},
        },
    )

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
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(422, "invalid_input", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        # Ray wraps errors raised in actors; a ServiceError keeps its class through the wrap.
        if isinstance(exc, ServiceError):
            return _error(exc.http_status, exc.code, exc.message)
        log.exception("unhandled error in the REST API")
        return _error(500, "internal_error", "internal error; the incident has been logged")

    def require(role: str) -> Callable[[Request], Awaitable[str]]:
        async def check(request: Request) -> str:
            scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthError(401, "unauthorized", "a bearer token is required")
            granted = await ctx.repos.api_tokens.role_for(hash_api_token(token.strip()))
            if granted is None:
                raise AuthError(401, "unauthorized", "unknown or revoked token")
            if ROLE_RANK[granted] < ROLE_RANK[role]:
                raise AuthError(403, "forbidden", f"this needs the {role} role")
            return granted

        return check

    viewer = Depends(require("viewer"))
    operator = Depends(require("operator"))
    admin = Depends(require("admin"))

    @app.get("/health", response_model=HealthReport, tags=["system"])
    async def health() -> JSONResponse:
        """No auth. 200 when the database, Ray and every deployment answer, else 503."""
        components: dict[str, str] = {}
        for name, probe in ctx.health_probes.items():
            try:
                await probe()
                components[name] = "ok"
            except Exception as e:
                components[name] = f"down: {type(e).__name__}: {e}"[:300]
        healthy = all(v == "ok" for v in components.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "components": components},
            status_code=200 if healthy else 503,
        )

    @app.post(
        "/charge-points",
        status_code=201,
        response_model=ChargePoint,
        tags=["charge points"],
        responses={409: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def register_charge_point(body: ChargePointRegistration) -> ChargePoint:
        return await charge_points.register_charge_point(ctx.repos, body)

    @app.get(
        "/charge-points",
        response_model=ChargePointPage,
        tags=["charge points"],
        dependencies=[viewer],
    )
    async def list_charge_points(
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> ChargePointPage:
        return await charge_points.list_charge_points(ctx.repos, cursor=cursor, limit=limit)

    @app.get(
        "/charge-points/{charge_point_id}",
        response_model=ChargePoint,
        tags=["charge points"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[viewer],
    )
    async def get_charge_point(charge_point_id: str) -> ChargePoint:
        return await charge_points.get_charge_point(ctx.repos, charge_point_id)

    @app.post(
        "/charge-points/{charge_point_id}/commands",
        response_model=CommandResult,
        tags=["commands"],
        dependencies=[admin],
        responses={
            404: {"model": ErrorResponse},
            409: {"model": ErrorResponse},
            504: {"model": ErrorResponse},
        },
    )
    async def send_command(
        charge_point_id: str,
        body: Command,
        timeout_s: Annotated[float | None, Query(gt=0, le=300)] = None,
    ) -> CommandResult:
        """Forward any schema-valid OCPP call of the charger's version, as it is."""
        return await commands.send_command(
            ctx.repos, ctx.directory, charge_point_id, body, timeout_s
        )

    @app.post(
        "/id-tags",
        status_code=201,
        response_model=IdTag,
        tags=["id tags"],
        responses={409: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def create_id_tag(body: IdTag) -> IdTag:
        return await id_tags.create_id_tag(ctx.repos, body)

    @app.get(
        "/transactions",
        response_model=TransactionPage,
        tags=["transactions"],
        dependencies=[viewer],
    )
    async def list_transactions(
        charge_point_id: str | None = None,
        cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> TransactionPage:
        return await transactions.list_transactions(
            ctx.repos, charge_point_id=charge_point_id, cursor=cursor, limit=limit
        )

    @app.post(
        "/sites",
        status_code=201,
        response_model=Site,
        tags=["sites"],
        responses={409: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def create_site(body: Site) -> Site:
        return await sites.create_site(ctx.repos, ctx.schedulers, body)

    @app.get(
        "/sites/{site_id}",
        response_model=Site,
        tags=["sites"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[viewer],
    )
    async def get_site(site_id: str) -> Site:
        return await sites.get_site(ctx.repos, site_id)

    @app.put(
        "/sites/{site_id}/limit",
        response_model=SitePlan,
        tags=["smart charging"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def set_site_limit(site_id: str, body: SiteLimit) -> SitePlan:
        """Cap the site now: it is re-planned at once and the new plan, with each charger's
        reply to its charging profile, comes back."""
        return await sites.set_site_limit(ctx.repos, ctx.schedulers, site_id, body.max_power_kw)

    @app.put(
        "/sites/{site_id}/prices",
        response_model=SitePlan,
        tags=["smart charging"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def set_site_prices(site_id: str, body: PriceSchedule) -> SitePlan:
        """Upload a price signal (steps of price per kWh, each until the next); the site is
        re-planned at once. Sessions with a known departure wait for cheaper slots."""
        return await sites.set_site_schedules(ctx.repos, ctx.schedulers, site_id, prices=body)

    @app.put(
        "/sites/{site_id}/limit-schedule",
        response_model=SitePlan,
        tags=["smart charging"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def set_site_limit_schedule(site_id: str, body: LimitSchedule) -> SitePlan:
        """Cap the site over time (steps of kW, each until the next, below its limit); the
        site is re-planned at once."""
        return await sites.set_site_schedules(ctx.repos, ctx.schedulers, site_id, limits=body)

    @app.get(
        "/sites/{site_id}/plan",
        response_model=SitePlan,
        tags=["smart charging"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[viewer],
    )
    async def get_site_plan(site_id: str) -> SitePlan:
        return await sites.get_site_plan(ctx.repos, ctx.schedulers, site_id)

    @app.put(
        "/transactions/{transaction_id}/demand",
        response_model=sites.DemandResult,
        tags=["smart charging"],
        responses={404: {"model": ErrorResponse}},
        dependencies=[operator],
    )
    async def set_session_demand(transaction_id: int, body: SessionDemand) -> sites.DemandResult:
        """What the driver needs from an open session (`id` from the transaction list): the
        smart-charging plan of its site charges toward it from now on."""
        return await sites.set_session_demand(ctx.repos, ctx.schedulers, transaction_id, body)

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
        from actors.directory import HostDirectory
        from actors.grid_scheduler import SchedulerDirectory

        self.settings = settings
        self.pool = await open_pool(database_url, max_size=settings.db_pool_max)
        self.directory = HostDirectory(settings.charge_point_hosts)
        self.schedulers = SchedulerDirectory(settings, database_url)

    async def _probe_database(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def _probe_ray(self) -> None:
        import ray

        if not any(node["Alive"] for node in ray.nodes()):
            raise RuntimeError("no live Ray node")

    async def _probe_deployments(self) -> None:
        status = serve.status()
        bad = [
            f"{app_name}/{name}: {dep.status}"
            for app_name, app_status in status.applications.items()
            for name, dep in app_status.deployments.items()
            if dep.status != "HEALTHY"
        ]
        if bad:
            raise RuntimeError(", ".join(bad))

    async def _probe_charge_point_hosts(self) -> None:
        for host in self.directory.hosts:
            await host.stats.remote()

    def __serve_build_asgi_app__(self) -> FastAPI:
        probes: dict[str, Any] = {
            "database": self._probe_database,
            "ray": self._probe_ray,
            "deployments": self._probe_deployments,
            "charge_point_hosts": self._probe_charge_point_hosts,
        }
        return build_rest_app(
            ApiContext(Repositories(self.pool), self.directory, self.schedulers, probes)
        )
