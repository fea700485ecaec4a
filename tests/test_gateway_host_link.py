"""The gateway's link to a host actor, against a stand-in host (no Ray cluster): which
connections it closes when a call to the host fails."""

from __future__ import annotations

import asyncio

from ray.exceptions import RayActorError

from serve_deployments.ocpp_gateway import HOST_RESTARTED, HostLink
from sigecve.ocpp.sessions import ConnectRequest, ConnectResult


class Method:
    """Stands in for an actor method: `.remote(...)` gives an awaitable, as Ray's does."""

    def __init__(self, run) -> None:
        self.run = run

    def remote(self, *args):
        return self.run(*args)


class RestartedHost:
    """A host whose process died and was restarted empty. Its first poll is one that was in
    flight to the dead process: it fails only when the test says so."""

    def __init__(self) -> None:
        self.hosted: dict[str, str] = {}  # connection id -> charge point id
        self.fail_the_poll = asyncio.Event()
        self.polls = 0
        self.connect = Method(self._connect)
        self.deliver = Method(self._deliver)
        self.poll = Method(self._poll)
        self.hosting = Method(self._hosting)

    async def _connect(self, gateway_id: str, requests: list[ConnectRequest]):
        for r in requests:
            self.hosted[r.connection_id] = r.charge_point_id
        return [ConnectResult(True, "known") for _ in requests]

    async def _deliver(self, frames) -> None:
        return None

    async def _poll(self, gateway_id: str, max_wait_s: float):
        self.polls += 1
        if self.polls == 1:
            await self.fail_the_poll.wait()
            raise RayActorError()
        await asyncio.Event().wait()  # nothing to send, ever

    async def _hosting(self, connections: list[tuple[str, str]]) -> list[str]:
        return [c for c, cp_id in connections if self.hosted.get(c) == cp_id]


async def test_a_call_failing_late_closes_only_the_connections_the_host_lost():
    """A charger admitted by the restarted host keeps its connection when a call made to the
    dead process fails after that admission (the boot of such a charger went unanswered, in
    CI); one admitted by the dead process is closed so that it reconnects."""
    host = RestartedHost()
    connections: dict[str, asyncio.Queue] = {c: asyncio.Queue() for c in ("old", "new")}
    link = HostLink(host, "gateway-test", connections)
    try:
        assert (await link.connect(ConnectRequest("CP-OLD", None, "ocpp1.6", "old"))).accepted
        host.hosted.clear()  # the process died and took this session with it
        assert (await link.connect(ConnectRequest("CP-NEW", None, "ocpp1.6", "new"))).accepted
        host.fail_the_poll.set()
        assert await asyncio.wait_for(connections["old"].get(), 10) == HOST_RESTARTED
        assert connections["new"].empty()
        assert link.members == {"new": "CP-NEW"}
    finally:
        for task in link._tasks:
            task.cancel()


def test_a_gateway_refuses_connects_while_a_hosts_oldest_admission_waits_too_long():
    """Past the count, or while the oldest admission through the same host has waited the
    bound, the next charger is refused; a slow host does not hold up another's chargers."""
    from sigecve.connect_queue import ConnectQueue

    queue = ConnectQueue(max_pending=3, max_wait_s=10.0)
    slow, other = object(), object()
    queue.enter("a", slow, now=0.0)
    assert not queue.full(slow, now=9.9)
    assert queue.full(slow, now=10.0)
    assert not queue.full(other, now=10.0)
    queue.enter("b", other, now=10.0)
    queue.enter("c", other, now=10.0)
    assert queue.full(other, now=10.0)  # three at once, whichever host
    queue.leave("a")
    queue.leave("b")
    assert not queue.full(slow, now=25.0) and len(queue) == 1


def test_an_admission_older_than_twice_the_bound_no_longer_counts():
    """A charger that never sends its boot (or gave up) holds the door shut for one bound at
    most, not for as long as its connection stays open."""
    from sigecve.connect_queue import ConnectQueue

    queue = ConnectQueue(max_pending=3, max_wait_s=10.0)
    host = object()
    queue.enter("silent", host, now=0.0)
    assert queue.full(host, now=19.9)
    assert not queue.full(host, now=20.0) and len(queue) == 0


async def test_a_chargers_admission_ends_with_its_first_answer():
    """The first frame the gateway sends a charger (its BootNotification's answer) ends its
    admission, once; later frames do not."""
    from serve_deployments.ocpp_gateway import _write_frames

    class Socket:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send_text(self, frame: str) -> None:
            self.sent.append(frame)

    socket, outbox, answered = Socket(), asyncio.Queue(), []
    writer = asyncio.create_task(_write_frames(socket, outbox, lambda: answered.append(1)))
    outbox.put_nowait('[3,"boot",{}]')
    outbox.put_nowait('[3,"status",{}]')
    outbox.put_nowait((1000, "done"))
    await asyncio.wait_for(writer, 10)
    assert socket.sent == ['[3,"boot",{}]', '[3,"status",{}]'] and answered == [1]
