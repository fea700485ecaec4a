"""The accept queue of a listening socket widened in place (the gateway replica's, in a storm)."""

from __future__ import annotations

import socket

from sigecve.listen_backlog import widen_listen_backlog


def test_a_widened_accept_queue_holds_connections_the_server_has_not_accepted():
    """With its backlog of 1 the kernel would queue 2 connections and drop the SYNs of the
    rest (their connects then hang in retransmission past the timeout); widened, all 20
    complete while the server accepts none."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert widen_listen_backlog(port, 64)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        for client in clients:
            client.close()


def test_a_port_this_process_does_not_listen_on_is_left_alone():
    with socket.socket() as unbound:
        unbound.bind(("127.0.0.1", 0))
        port = unbound.getsockname()[1]  # bound, not listening
        assert not widen_listen_backlog(port)
