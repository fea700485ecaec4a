"""The charge points hosted in one process: a session and a mailbox per charge point.

Frames arrive in batches from gateways (`deliver`), wait in the charge point's mailbox and are
handled one at a time in arrival order by its session, so each charge point behaves as one
actor even though many share a process. Frames going out wait per gateway until the gateway
collects them (`poll`). Nothing here knows of Ray: the host actor is a shell around this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigecve.db.coalesced_writes import CoalescedWrites
from sigecve.db.group_commit import GroupCommitter, after_commit
from sigecve.db.repositories import ChargePointArrival, Repositories
from sigecve.db.write_behind import WriteBehind
from sigecve.domain import CommandResult
from sigecve.ocpp import v16, v21, v201
from sigecve.ocpp.message_log import MessageLogWriter
from sigecve.ocpp.session_base import CallErrorReply
from sigecve.onboarding import RETRY_BOOT_S
from sigecve.security import VerifiedPasswords
from sigecve.services.charge_points import AdmissionDecision, admit_charge_points
from sigecve.services.errors import NotConnected
from sigecve.services.onboarding import onboard_approved_station
from sigecve.services.remote_commands import Commander

log = logging.getLogger(__name__)

SESSION_CLASSES = {
    v21.PROTOCOL: v21.ChargePointSession21,
    v201.PROTOCOL: v201.ChargePointSession201,
    v16.PROTOCOL: v16.ChargePointSession16,
}
SUPPORTED_PROTOCOLS = tuple(SESSION_CLASSES)

# (connection id, frame); a frame of None asks the gateway to close that connection.
OutboundItem = tuple[str, str | None]

# A gateway always has a poll waiting here (each returns within its 10 s wait and the next
# follows at once): one not heard from for this long is gone (its node died or is cut off)
# and the sessions of its connections end, their chargers marked offline.
GATEWAY_LEASE_S = 30.0
# A gateway past its lease whose node is still alive is slow, not gone (a storm on a busy
# machine delayed its next poll): ending its sessions would send every one of its chargers
# into the storm too. It is given this long before its sessions end anyway (its process
# died on a live node, and Serve replaced it).
SLOW_GATEWAY_LEASE_S = 300.0
WATCH_EVERY_S = 5.0
# A charger that sent nothing for two heartbeat intervals and a minute is gone too, whatever
# its gateway thinks (a half-open connection that WebSocket pings did not catch).
SILENCE_GRACE_S = 60.0


class Mailbox:
    """The connection object the `ocpp` router reads frames from and writes frames to."""

    def __init__(
        self,
        charge_point_id: str,
        connection_id: str,
        gateway_id: str,
        sessions: ChargePointSessions,
    ) -> None:
        self.charge_point_id = charge_point_id
        self.connection_id = connection_id
        self.gateway_id = gateway_id
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self._sessions = sessions

    async def recv(self) -> str:
        return await self.inbox.get()

    async def send(self, frame: str) -> None:
        # A reply to a charger's message waits for the group commit of its data.
        after_commit(lambda: self._sessions.emit(self, frame))


@dataclass
class HostedChargePoint:
    mailbox: Mailbox
    session: Any
    protocol: str
    task: asyncio.Task = field(repr=False)
    ingress: str = ""  # the node whose gateway holds its connection
    last_frame_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ConnectRequest:
    """A charger's WebSocket waiting, in a gateway, to be admitted."""

    charge_point_id: str
    password: str | None
    protocol: str
    connection_id: str
    ingress: str = ""  # the IP of the node whose gateway it entered through


@dataclass(frozen=True)
class ConnectResult:
    accepted: bool
    reason: str


class ChargePointSessions:
    def __init__(
        self,
        repos: Repositories,
        *,
        auto_register: bool,
        heartbeat_interval_s: int,
        command_timeout_s: float,
        boot_retry_s: int = RETRY_BOOT_S,
        site_replanner: Callable[[str], Awaitable[None]] | None = None,
        power_observer: Callable[[str, int | str, float], Awaitable[None]] | None = None,
        gateways_on_live_nodes: Callable[[set[str]], Awaitable[set[str]]] | None = None,
    ) -> None:
        self.repos = repos
        # Of some gateway ids, those whose node the cluster still has (None: every node's
        # gone with its lease, as on one machine).
        self._gateways_on_live_nodes = gateways_on_live_nodes
        # Told the id of a charge point whose sessions changed, so its site can re-plan.
        self._site_replanner = site_replanner
        # Told each session's measured power (kW), so its site can see it stray from the plan.
        self._power_observer = power_observer
        self._background: set[asyncio.Task] = set()
        self._onboarding: set[str] = set()  # approved stations being configured now
        self.auto_register = auto_register
        self.verified_passwords = VerifiedPasswords()
        self.heartbeat_interval_s = heartbeat_interval_s
        self.boot_retry_s = boot_retry_s
        self.command_timeout_s = command_timeout_s
        self.message_log = MessageLogWriter(repos.message_log)
        # (charge point id, when): a heartbeat is answered without waiting for its write.
        self.heartbeats: WriteBehind[tuple[str, datetime]] = WriteBehind(
            repos.charge_points.record_heartbeats, "heartbeats"
        )
        # (charge point id, connection id): a storm's thousands of closings in a few statements.
        self.departures: CoalescedWrites[tuple[str, str]] = CoalescedWrites(
            repos.charge_points.mark_disconnected
        )
        self.commits: GroupCommitter | None = None
        self._hosted: dict[str, HostedChargePoint] = {}
        self._outbound: dict[str, asyncio.Queue[OutboundItem]] = {}
        # Per gateway: when it last began or ended a poll, and how many it has waiting.
        self._heard_from: dict[str, float] = {}
        self._polling: Counter[str] = Counter()
        self._watch: asyncio.Task | None = None

    def start(self) -> None:
        self.commits = GroupCommitter(self.repos.pool)
        self.message_log.rows.start()
        self.heartbeats.start()
        self._watch = asyncio.create_task(self._watch_forever())

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for cp_id in list(self._hosted):
            await self._drop(cp_id)
        if self.commits is not None:
            await self.commits.close()
        await self.departures.close()
        await self.message_log.rows.close()
        await self.heartbeats.close()

    @property
    def connected_count(self) -> int:
        return len(self._hosted)

    def entered_by_ingress(self) -> dict[str, int]:
        """The chargers hosted here, by the node they entered the cluster through."""
        return dict(Counter(h.ingress for h in self._hosted.values()))

    def gone(self, now: float) -> tuple[set[str], list[HostedChargePoint]]:
        """The gateways whose lease ran out, and the sessions silent too long, at `now`."""
        expired = {
            g
            for g, at in self._heard_from.items()
            if not self._polling[g] and now - at > GATEWAY_LEASE_S
        }
        silence_s = 2 * self.heartbeat_interval_s + SILENCE_GRACE_S
        silent = [h for h in self._hosted.values() if now - h.last_frame_at > silence_s]
        return expired, silent

    async def _watch_forever(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                await self.end_gone(time.monotonic())
            except Exception:
                log.exception("could not end the sessions of lost gateways")

    async def end_gone(self, now: float) -> None:
        """End the sessions of lost gateways and silent chargers, marking them offline."""
        expired, silent = self.gone(now)
        if expired and self._gateways_on_live_nodes is not None:
            try:
                slow = await self._gateways_on_live_nodes(expired)
            except Exception:
                log.exception("could not ask which gateways' nodes are alive")
                slow = expired  # asked again at the next watch
            expired = {
                g
                for g in expired
                if g not in slow or now - self._heard_from[g] > SLOW_GATEWAY_LEASE_S
            }
        lost = [h for h in self._hosted.values() if h.mailbox.gateway_id in expired]
        for gateway_id in expired:
            del self._heard_from[gateway_id]
            self._outbound.pop(gateway_id, None)
            self._polling.pop(gateway_id, None)
        if lost:
            log.warning(
                "%d gateways lost (no poll for %.0f s): ending %d sessions",
                len(expired),
                GATEWAY_LEASE_S,
                len(lost),
            )
        for hosted in silent:
            if hosted.mailbox.gateway_id not in expired:
                log.warning(
                    "%s silent too long: closing its connection", hosted.mailbox.charge_point_id
                )
                self._queue(hosted.mailbox.gateway_id).put_nowait(
                    (hosted.mailbox.connection_id, None)
                )
        for hosted in {id(h): h for h in lost + silent}.values():
            await self.disconnect(hosted.mailbox.charge_point_id, hosted.mailbox.connection_id)

    def is_connected(self, charge_point_id: str) -> bool:
        return charge_point_id in self._hosted

    def protocol_of(self, charge_point_id: str) -> str | None:
        """The OCPP version the charger speaks on its connection here; None if not here."""
        hosted = self._hosted.get(charge_point_id)
        return hosted.protocol if hosted is not None else None

    def hosting(self, connections: Sequence[tuple[str, str]]) -> list[str]:
        """Of these (connection id, charge point id) pairs, the connections whose sessions are
        here (a gateway asks after a call to this host failed)."""
        return [c for c, cp_id in connections if self._session_of(cp_id, c) is not None]

    def _session_of(self, charge_point_id: str, connection_id: str) -> HostedChargePoint | None:
        """The charger's session here if it is that connection's (not an older or newer one's)."""
        hosted = self._hosted.get(charge_point_id)
        return (
            hosted if hosted is not None and hosted.mailbox.connection_id == connection_id else None
        )

    async def connect(
        self, gateway_id: str, requests: Sequence[ConnectRequest]
    ) -> list[ConnectResult]:
        """Admit the chargers connecting through `gateway_id` (one result per request, in
        order) and start a session for each one admitted; a request for a charge point that
        is already here, connected or earlier in `requests`, replaces that connection."""
        assert self.commits is not None, "start() the sessions first"
        self._heard_from[gateway_id] = time.monotonic()  # it speaks: it is alive
        supported = [r for r in requests if r.protocol in SUPPORTED_PROTOCOLS]
        decisions = iter(
            await admit_charge_points(
                self.repos,
                [(r.charge_point_id, r.password) for r in supported],
                auto_register=self.auto_register,
                verified=self.verified_passwords,
            )
        )
        results: list[ConnectResult] = []
        arrivals: dict[str, ChargePointArrival] = {}
        for request in requests:
            if request.protocol not in SUPPORTED_PROTOCOLS:
                results.append(ConnectResult(False, f"unsupported protocol {request.protocol!r}"))
                continue
            decision = next(decisions)
            if not decision.accepted:
                log.info("refused %s: %s", request.charge_point_id, decision.reason)
                results.append(ConnectResult(False, decision.reason))
                continue
            if self._session_of(request.charge_point_id, request.connection_id) is not None:
                # Asked again (the gateway lost the answer): its session goes on as it is.
                results.append(ConnectResult(True, decision.reason))
                continue
            await self._host(gateway_id, request, decision)
            arrivals[request.charge_point_id] = ChargePointArrival(
                request.charge_point_id, request.protocol, request.connection_id
            )
            results.append(ConnectResult(True, decision.reason))
        # Not a group commit: a connect and the disconnect of the connection it replaces touch
        # the same row outside the charger's mailbox order, and in two batches they could
        # deadlock each other.
        try:
            await self.repos.charge_points.mark_connected(list(arrivals.values()))
        except Exception:
            # Their connects fail: the sessions started for them go too.
            for arrival in arrivals.values():
                await self._drop_connection(arrival.charge_point_id, arrival.connection_id)
            raise
        return results

    async def _host(
        self, gateway_id: str, request: ConnectRequest, admitted: AdmissionDecision
    ) -> None:
        """Start the admitted charger's session, replacing the one it had here, if any."""
        charge_point_id = request.charge_point_id
        previous = self._hosted.get(charge_point_id)
        if previous is not None:
            self._queue(previous.mailbox.gateway_id).put_nowait(
                (previous.mailbox.connection_id, None)
            )
            await self._drop(charge_point_id)
        mailbox = Mailbox(charge_point_id, request.connection_id, gateway_id, self)
        session = SESSION_CLASSES[request.protocol](
            charge_point_id,
            mailbox,
            self.repos,
            commits=self.commits,
            heartbeats=self.heartbeats,
            heartbeat_interval_s=self.heartbeat_interval_s,
            on_charging_change=self._charging_changed,
            on_power=self._power_observed,
            on_approved_boot=self._onboard,
            response_timeout_s=self.command_timeout_s,
        )
        session.registration_status = admitted.registration_status
        session.approved = admitted.approved
        session.boot_retry_s = self.boot_retry_s
        task = asyncio.create_task(session.start(), name=f"ocpp-session-{charge_point_id}")
        self._hosted[charge_point_id] = HostedChargePoint(
            mailbox, session, request.protocol, task, request.ingress
        )

    def deliver(self, frames: list[tuple[str, str, str | None]]) -> None:
        """(connection id, charge point id, frame) triples, in the order they arrived; a frame
        of None: that connection has closed."""
        for connection_id, charge_point_id, frame in frames:
            if frame is None:
                self._in_background(self.disconnect(charge_point_id, connection_id))
                continue
            hosted = self._session_of(charge_point_id, connection_id)
            if hosted is None:
                continue  # from a connection that has been closed or replaced
            self.message_log.record(charge_point_id, "in", frame)
            hosted.last_frame_at = time.monotonic()
            hosted.mailbox.inbox.put_nowait(frame)

    def emit(self, mailbox: Mailbox, frame: str) -> None:
        self.message_log.record(mailbox.charge_point_id, "out", frame)
        self._queue(mailbox.gateway_id).put_nowait((mailbox.connection_id, frame))

    async def poll(self, gateway_id: str, max_wait_s: float) -> list[OutboundItem]:
        """Frames waiting for `gateway_id`: returns as soon as there is one, [] after max_wait_s."""
        queue = self._queue(gateway_id)
        self._polling[gateway_id] += 1
        try:
            first = await asyncio.wait_for(queue.get(), max_wait_s)
        except TimeoutError:
            return []
        finally:
            self._polling[gateway_id] -= 1
            self._heard_from[gateway_id] = time.monotonic()
        items = [first]
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def disconnect(self, charge_point_id: str, connection_id: str) -> None:
        await self._drop_connection(charge_point_id, connection_id)
        await self.departures.write((charge_point_id, connection_id))

    async def _drop_connection(self, charge_point_id: str, connection_id: str) -> None:
        """End the charger's session if it is still that connection's (not a newer one's)."""
        if self._session_of(charge_point_id, connection_id) is not None:
            await self._drop(charge_point_id)

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any], timeout_s: float | None
    ) -> CommandResult:
        """Send a CSMS-initiated call and report the charger's reply."""
        hosted = self._hosted.get(charge_point_id)
        if hosted is None:
            raise NotConnected(f"charge point {charge_point_id!r} is not connected")
        try:
            reply = await hosted.session.call_action(
                action, payload, timeout_s or self.command_timeout_s
            )
        except CallErrorReply as e:
            return CommandResult(
                action=action,
                status="CallError",
                response={
                    "errorCode": e.error_code,
                    "errorDescription": e.description,
                    "errorDetails": e.details,
                },
            )
        status = reply.get("status")
        return CommandResult(
            action=action, status=status if isinstance(status, str) else "Replied", response=reply
        )

    def _charging_changed(self, charge_point_id: str) -> None:
        if self._site_replanner is not None:
            self._in_background(self._site_replanner(charge_point_id))

    def _power_observed(self, charge_point_id: str, transaction_id: int | str, kw: float) -> None:
        if self._power_observer is not None:
            self._in_background(self._power_observer(charge_point_id, transaction_id, kw))

    def _onboard(self, charge_point_id: str) -> None:
        """An approved station booted: read its device model, configure it and accept it,
        once at a time (its boots while that runs are answered Pending)."""
        if charge_point_id in self._onboarding:
            return
        self._onboarding.add(charge_point_id)

        async def run() -> None:
            try:
                commander = Commander(self.repos, LocalDirectory(self))
                await onboard_approved_station(self.repos, commander, charge_point_id)
            finally:
                self._onboarding.discard(charge_point_id)

        self._in_background(run())

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    def _queue(self, gateway_id: str) -> asyncio.Queue[OutboundItem]:
        queue = self._outbound.get(gateway_id)
        if queue is None:
            queue = self._outbound[gateway_id] = asyncio.Queue()
            self._heard_from.setdefault(gateway_id, time.monotonic())  # its lease begins
        return queue

    async def _drop(self, charge_point_id: str) -> None:
        hosted = self._hosted.pop(charge_point_id, None)
        if hosted is None:
            return
        hosted.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await hosted.task


class LocalDirectory:
    """The charge points hosted here, as the services reach chargers (ChargePointDirectory):
    for work the host does on its own, such as onboarding an approved station."""

    def __init__(self, sessions: ChargePointSessions) -> None:
        self._sessions = sessions

    async def protocol_of(self, charge_point_id: str) -> str | None:
        return self._sessions.protocol_of(charge_point_id)

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any], timeout_s: float | None
    ) -> CommandResult:
        return await self._sessions.call(charge_point_id, action, payload, timeout_s)
