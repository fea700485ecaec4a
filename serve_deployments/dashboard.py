"""The operator dashboard at `/`: static files shipped in the package (nothing is fetched from
the internet), a single page that talks to the REST API with the operator's token."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from ray import serve
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ASSETS = Path(__file__).with_name("dashboard_assets")

# Only our own origin: a page that tried to load anything from elsewhere would break here
# before it broke offline.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def build_dashboard_app() -> ASGIApp:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/", StaticFiles(directory=ASSETS, html=True), name="dashboard")
    return SecurityHeaders(app)


@serve.deployment(
    name="Dashboard",
    max_ongoing_requests=200,
    graceful_shutdown_timeout_s=5,
    ray_actor_options={"num_cpus": 0},
)
@serve.ingress()
class Dashboard:
    def __serve_build_asgi_app__(self) -> ASGIApp:
        return build_dashboard_app()
