"""The OCPP-J WebSocket gateway: `ws://H:P/ocpp/{charge_point_id}`.

It terminates WebSockets and moves frames; all OCPP handling happens in the charge point's
actor. Per host actor, connects and frames in are sent in batches (whatever arrived while the
previous batch was in flight; a connection's closing travels among the frames, after its last
one) and frames out are collected by one long poll, so the cost of a Ray call is shared by
every charge point the gateway serves instead of paid per connect or frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import ray
from ray import serve
from ray.exceptions import RayActorError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from actors.directory import HostDirectory
from sigecve.connect_queue import ConnectQueue
from sigecve.gc_tuning import tune_for_many_connections
from sigecve.listen_backlog import widen_listen_backlog
from sigecve.ocpp.framing import UNKNOWN_MESSAGE_ID, call_error_frame, oversize_frame_error
from sigecve.ocpp.sessions import SUPPORTED_PROTOCOLS, ConnectRequest, ConnectResult
from sigecve.placement import gateway_id as new_gateway_id
from sigecve.rate_limit import TokenBuckets
from sigecve.security import parse_basic_auth
from sigecve.settings import Settings

log = logging.getLogger(__name__)

POLL_WAIT_S = 10.0
# A call that may wait for a host actor being restarted (a connect, the question of which
# connections it holds) waits this long, asking again every so often.
HOST_RESTART_WAIT_S = 20.0
HOST_RESTART_RETRY_S = 0.2
Close = tuple[int, str]  # close code and reason
# An outbox item that closes the WebSocket instead of carrying a frame.
HOST_RESTARTED = (1012, "service restart: reconnect")  # RFC 6455's "Service Restart"
REPLACED = (1000, "replaced by a new connection")
RETRY_AFTER_S = 5
T = TypeVar("T")


def choose_protocol(offered: list[str]) -> str | None:
    """The first protocol we support, in the charger's order of preference (pure)."""
    return next((p for p in offered if p in SUPPORTED_PROTOCOLS), None)


class HostLink:
    """The gateway's two streams with one host actor: batched frames in, long-polled frames out."""

    def __init__(self, host: Any, gateway_id: str, connections: dict[str, asyncio.Queue]) -> None:
        self.host = host
        self.gateway_id = gateway_id
        self.connections = connections
        # Connection id -> charge point id, for the connections whose sessions this host holds.
        self.members: dict[str, str] = {}
        self._pending: list[tuple[str, str, str | None]] = []
        self._wakeup = asyncio.Event()
        self._connecting: list[tuple[ConnectRequest, asyncio.Future[ConnectResult]]] = []
        self._connect_wakeup = asyncio.Event()
        self._host_failed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._poll_loop()),
            asyncio.create_task(self._connect_loop()),
            asyncio.create_task(self._lost_connections_loop()),
        ]

    async def connect(self, request: ConnectRequest) -> ConnectResult:
        """The host's admission of a connecting charger (its session started and the
        connection a member if admitted)."""
        result: asyncio.Future[ConnectResult] = asyncio.get_running_loop().create_future()
        self._connecting.append((request, result))
        self._connect_wakeup.set()
        try:
            admission = await result
        except asyncio.CancelledError:
            # The charger gave up after the host admitted it: end the session begun for it
            # (if it gave up before, `_connect_loop` does, when the answer comes).
            if (
                result.done()
                and not result.cancelled()
                and result.exception() is None
                and result.result().accepted
            ):
                self.closed(request.connection_id, request.charge_point_id)
            raise
        if admission.accepted:
            self.members[request.connection_id] = request.charge_point_id
        return admission

    def send(self, connection_id: str, charge_point_id: str, frame: str) -> None:
        self._pending.append((connection_id, charge_point_id, frame))
        self._wakeup.set()

    def closed(self, connection_id: str, charge_point_id: str) -> None:
        """The connection is gone: the host ends its session, told after the connection's last
        frames (any it has not handled by then got no reply, so the charger sends them again)."""
        self.members.pop(connection_id, None)
        self._pending.append((connection_id, charge_point_id, None))
        self._wakeup.set()

    async def _send_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            try:
                await self.host.deliver.remote(batch)
            except RayActorError:
                self._host_failed.set()
            except Exception:
                log.exception("could not deliver %d frames to a host actor", len(batch))

    async def _connect_loop(self) -> None:
        while True:
            await self._connect_wakeup.wait()
            self._connect_wakeup.clear()
            # Those whose chargers gave up waiting are not sent.
            batch = [(r, waiting) for r, waiting in self._connecting if not waiting.done()]
            self._connecting = []
            if not batch:
                continue
            try:
                results = await self._admit([request for request, _ in batch])
            except Exception as e:  # the host actor is gone for good, or the database failed
                for _, waiting in batch:
                    if not waiting.done():
                        waiting.set_exception(e)
                continue
            for (request, waiting), result in zip(batch, results, strict=True):
                if not waiting.done():
                    waiting.set_result(result)
                elif result.accepted:  # its charger gave up meanwhile: end the session begun
                    self.closed(request.connection_id, request.charge_point_id)

    async def _admit(self, requests: list[ConnectRequest]) -> list[ConnectResult]:
        return await self._through_restart(
            lambda: self.host.connect.remote(self.gateway_id, requests)
        )

    async def _through_restart(self, ask: Callable[[], Awaitable[T]]) -> T:
        """The host's answer to `ask`. A host actor that died fails the calls made to it until
        Ray has restarted it; the restarted actor starts empty, so asking it again is safe, for
        as long as a charger may wait for its handshake."""
        give_up_at = time.monotonic() + HOST_RESTART_WAIT_S
        while True:
            try:
                return await ask()
            except RayActorError:  # died, or being restarted (Ray restarts hosts always)
                if time.monotonic() >= give_up_at:
                    raise
                await asyncio.sleep(HOST_RESTART_RETRY_S)

    async def _poll_loop(self) -> None:
        while True:
            try:
                items = await self.host.poll.remote(self.gateway_id, POLL_WAIT_S)
            except RayActorError:
                self._host_failed.set()
                await asyncio.sleep(HOST_RESTART_RETRY_S)
                continue
            except Exception:
                log.exception("polling a host actor failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for connection_id, frame in items:
                outbox = self.connections.get(connection_id)
                if outbox is not None:
                    outbox.put_nowait(REPLACED if frame is None else frame)

    async def _lost_connections_loop(self) -> None:
        while True:
            await self._host_failed.wait()
            self._host_failed.clear()
            await self._close_lost_connections()

    async def _close_lost_connections(self) -> None:
        """A call to the host failed: it died, and Ray restarts it empty. The sessions it
        held are gone, and any frames on their way to it: close those connections so the
        chargers reconnect and send again what was not acknowledged. Which ones is the
        restarted host's to say: a call can fail late, after it has admitted a charger, and
        that connection must stay."""
        members = dict(self.members)
        if not members:
            return
        try:
            hosted = set(
                await self._through_restart(lambda: self.host.hosting.remote(list(members.items())))
            )
        except Exception:
            log.exception("could not ask a restarted host actor for its sessions")
            hosted = set()
        lost = [c for c in members if c not in hosted and c in self.members]
        if lost:
            log.warning("host actor lost: closing %d connections", len(lost))
        for connection_id in lost:
            del self.members[connection_id]
            outbox = self.connections.get(connection_id)
            if outbox is not None:
                outbox.put_nowait(HOST_RESTARTED)


def build_gateway_app(settings: Settings) -> Starlette:
    gateway_id = new_gateway_id(
        os.getpid(), ray.get_runtime_context().get_node_id(), uuid.uuid4().hex[:8]
    )
    # The node chargers enter through here, for `GET /api/v1/cluster` and `sigecve lab status`.
    ingress = ray.util.get_node_ip_address()
    directory = HostDirectory(settings.charge_point_hosts)
    connections: dict[str, asyncio.Queue[str | Close]] = {}
    pacing = TokenBuckets(settings.ocpp_rate_per_s, settings.ocpp_burst)
    links: dict[int, HostLink] = {}
    admitting = ConnectQueue(settings.max_pending_connects, settings.max_connect_wait_s)
    backlog_widened = False

    def link_for(charge_point_id: str) -> HostLink:
        host = directory.host_for(charge_point_id)
        key = id(host)
        if key not in links:
            links[key] = HostLink(host, gateway_id, connections)
        return links[key]

    async def ocpp_endpoint(websocket: WebSocket) -> None:
        nonlocal backlog_widened
        charge_point_id: str = websocket.path_params["charge_point_id"]
        if not backlog_widened:
            # Serve starts the replica's server after building the app, on a port it picks:
            # the first charger shows which (none is ours behind Serve's Python proxy).
            backlog_widened = True
            server = websocket.scope.get("server")
            if server:
                widen_listen_backlog(server[1])
        protocol = choose_protocol(websocket.scope.get("subprotocols") or [])
        if protocol is None:
            await websocket.close(code=1002, reason="no supported OCPP subprotocol offered")
            return
        credentials = parse_basic_auth(websocket.headers.get("authorization"))
        if credentials is not None and credentials[0] != charge_point_id:
            await websocket.close(code=1008, reason="Basic auth user must be the charge point id")
            return
        password = credentials[1] if credentials else None
        link = link_for(charge_point_id)
        if admitting.full(link, time.monotonic()):
            await refuse_for_now(websocket, "too many chargers connecting at once")
            return
        connection_id = uuid.uuid4().hex
        # Registered first: a command may be sent the moment the host actor admits the charger.
        outbox: asyncio.Queue[str | Close] = asyncio.Queue()
        connections[connection_id] = outbox
        # Admitting lasts until the charger's first answer (its BootNotification's): a
        # cluster that opens WebSockets faster than it can boot them would otherwise take
        # in a whole fleet that then times out waiting for its boots.
        admitting.enter(connection_id, link, time.monotonic())
        try:
            result = await link.connect(
                ConnectRequest(charge_point_id, password, protocol, connection_id, ingress)
            )
        except Exception:
            # Not the charger's fault: it is told to come back, not given a 500.
            log.exception("could not admit %s", charge_point_id)
            connections.pop(connection_id, None)
            admitting.leave(connection_id)
            await refuse_for_now(websocket, "cannot admit chargers just now")
            return
        except BaseException:
            connections.pop(connection_id, None)
            admitting.leave(connection_id)
            raise
        if not result.accepted:
            connections.pop(connection_id, None)
            admitting.leave(connection_id)
            await refuse_credentials(websocket, result.reason)
            return
        writer: asyncio.Task | None = None
        max_bytes = settings.max_frame_bytes
        try:
            # Inside the try: for a charger gone while it was being admitted this fails, and
            # its host must still end the session begun for it. The header names the replica
            # holding the connection, for operators' diagnostics and the tests.
            await websocket.accept(
                subprotocol=protocol, headers=[(b"x-sigecve-gateway", gateway_id.encode())]
            )
            writer = asyncio.create_task(
                _write_frames(websocket, outbox, lambda: admitting.leave(connection_id))
            )
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                frame = message.get("text")
                # Refused frames get their CALLERROR here and the connection stays up.
                if frame is None:
                    outbox.put_nowait(
                        call_error_frame(
                            UNKNOWN_MESSAGE_ID,
                            "RpcFrameworkError",
                            "OCPP-J frames are text frames",
                            protocol,
                        )
                    )
                elif len(frame) > max_bytes and len(frame.encode()) > max_bytes:
                    outbox.put_nowait(oversize_frame_error(frame, max_bytes, protocol))
                else:
                    link.send(connection_id, charge_point_id, frame)
                # Back-pressure: past its burst a charger is read at its rate. Not reading
                # fills its TCP window, so a flood slows itself and nothing is dropped.
                wait = pacing.pace(connection_id, time.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            if writer is not None:
                writer.cancel()
            admitting.leave(connection_id)
            connections.pop(connection_id, None)
            pacing.forget(connection_id)
            link.closed(connection_id, charge_point_id)

    # Starlette, not FastAPI: one WebSocket route needs no dependency resolution or
    # telemetry, which FastAPI would run for every connecting charger.
    return Starlette(routes=[WebSocketRoute("/{charge_point_id}", ocpp_endpoint)])


async def refuse_for_now(websocket: WebSocket, why: str) -> None:
    """Refuse the opening handshake with 503 and Retry-After: a charger backs off and comes
    again."""
    await refuse_handshake(
        websocket,
        503,
        f"{why}; try again shortly",
        {"Retry-After": str(RETRY_AFTER_S)},
        fallback=(1013, "try again later"),
    )


async def refuse_credentials(websocket: WebSocket, reason: str) -> None:
    """Refuse a charger not admitted with 401, as OCPP's security profiles 1 and 2 ask of a
    CSMS that does not accept the Basic auth credentials."""
    await refuse_handshake(
        websocket,
        401,
        "not admitted",
        {"WWW-Authenticate": 'Basic realm="OCPP", charset="UTF-8"'},
        fallback=(1008, reason),
    )


async def refuse_handshake(
    websocket: WebSocket, status: int, text: str, headers: dict[str, str], fallback: Close
) -> None:
    """Answer the opening handshake with an HTTP response where the ASGI server can (uvicorn,
    behind HAProxy or Serve's Python proxy); else close it with `fallback` (the client sees
    403)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(
            PlainTextResponse(text, status_code=status, headers=headers)
        )
    else:
        await websocket.close(code=fallback[0], reason=fallback[1])


async def _write_frames(
    websocket: WebSocket, outbox: asyncio.Queue[str | Close], answered: Callable[[], None]
) -> None:
    """The outbox's frames to the charger; `answered` is called once the first is sent."""
    first = True
    while True:
        frame = await outbox.get()
        if isinstance(frame, tuple):  # replaced by a newer connection, or the host restarted
            with contextlib.suppress(Exception):
                await websocket.close(code=frame[0], reason=frame[1])
            return
        try:
            await websocket.send_text(frame)
        except Exception:
            return
        if first:
            first = False
            answered()


@serve.deployment(
    name="OcppGateway",
    # Each open WebSocket is one ongoing request for Serve: the default (5) would cap a
    # replica at five charge points.
    max_ongoing_requests=20_000,
    # Open WebSockets never finish by themselves; chargers reconnect after a restart anyway.
    graceful_shutdown_timeout_s=2,
    ray_actor_options={"num_cpus": 0},
)
@serve.ingress()
class OcppGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        tune_for_many_connections()

    def __serve_build_asgi_app__(self) -> Starlette:
        return build_gateway_app(self.settings)


def gateway_deployment(settings: Settings):
    """The gateway deployment with its replica counts from `settings`."""
    return OcppGateway.options(
        num_replicas=settings.gateway_replicas,
        max_replicas_per_node=settings.gateway_replicas_per_node,
    )
