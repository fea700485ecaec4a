"""The accept queue of a server socket this process listens on, made longer.

A listening socket's queue holds connections the kernel has completed and the server has not
yet accepted. Serve's replica servers listen with uvicorn's 2,048 and give no way to change it.
In a reconnection storm of 7,500 chargers the gateway replica's queue sat full for about 40
seconds (`ss -ltn`): the kernel dropped every further connection attempt, HAProxy gave up on
them after its connect timeout and answered HTTP 500, and the chargers backed off and came
again. Calling listen() again on a listening socket changes its backlog (Linux caps it at
net.core.somaxconn, 4,096 by default since Linux 5.4); the connections then wait in the
queue instead.
"""

from __future__ import annotations

import logging
import os
import socket

import psutil

log = logging.getLogger(__name__)

# As long as the kernel allows: it caps it at net.core.somaxconn.
LISTEN_BACKLOG = 65_535


def widen_listen_backlog(port: int, backlog: int = LISTEN_BACKLOG) -> bool:
    """Give this process's TCP socket listening on `port` an accept queue of `backlog`
    (capped by the kernel); False if this process does not listen on that port."""
    for c in psutil.Process().net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.fd != -1:
            with socket.socket(fileno=os.dup(c.fd)) as listening:  # the same socket
                listening.listen(backlog)
            log.info("accept queue of port %d widened to %d", port, backlog)
            return True
    return False
