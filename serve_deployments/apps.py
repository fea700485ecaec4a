"""SIGEC-VE's Serve applications, for `serve deploy serve_config.yaml` (docs/cluster.md).

`sigecve up` is the usual way to run SIGEC-VE. Where Serve's own configuration manages the
applications instead (`serve deploy`, KubeRay's RayService), each builder prepares what its
application's deployments talk to: the database migrated, and the actors, detached so
that they outlive the builder. Settings come from the environment of the Ray nodes and from
the application's `args` (the same names, e.g. `SIGECVE_GATEWAY_REPLICAS`).
"""

from __future__ import annotations

from ray.serve import Application

from actors.charge_point_host import start_charge_point_hosts
from actors.failure_scorer import start_scorers
from serve_deployments.dashboard import Dashboard
from serve_deployments.mcp_server import McpServer
from serve_deployments.ocpp_gateway import gateway_deployment
from serve_deployments.rest_api import RestApi
from sigecve.bootstrap import bootstrap_database
from sigecve.settings import Settings


def _prepared(args: dict[str, str]) -> tuple[Settings, str]:
    settings = Settings(**args)
    if not settings.database_url:
        raise ValueError(
            "serve deploy needs DATABASE_URL: a PostgreSQL every node reaches "
            "(the embedded one is `sigecve up`'s)"
        )
    if not settings.admin_token:
        raise ValueError("serve deploy needs SIGECVE_ADMIN_TOKEN (there is no var/ to keep one)")
    # A redeploy is not a cold start: chargers stay connected through it.
    bootstrap_database(settings, settings.database_url, cold_start=False)
    return settings, settings.database_url


def ocpp(args: dict[str, str]) -> Application:
    settings, database_url = _prepared(args)
    start_charge_point_hosts(settings, database_url, detached=True)
    return gateway_deployment(settings).bind(settings)


def api(args: dict[str, str]) -> Application:
    settings, database_url = _prepared(args)
    start_scorers(settings, database_url, detached=True)
    return RestApi.bind(settings, database_url)


def mcp(args: dict[str, str]) -> Application:
    settings, database_url = _prepared(args)
    return McpServer.bind(settings, database_url)


def dashboard(args: dict[str, str]) -> Application:
    return Dashboard.bind()
