"""A lab node's keeper: runs `ray start --block` and starts it again whenever it exits, as a
service manager (systemd, a Kubernetes kubelet) does on a real node.

Ray ends a node that the cluster declared dead while it was cut off: once its network is
back, it finds out and exits. Started again, it joins as a new node, and Serve puts an
ingress on it. A node killed by `sigecve lab fault kill` loses its keeper with everything
else in its namespace; `heal` starts a new one.

    python -m sigecve.lab.keeper LOG -- ray start ... --block
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 10.0
STABLE_AFTER_S = 60.0  # a run this long resets the delay


def keep(command: list[str], log) -> int:
    child: subprocess.Popen | None = None
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = FIRST_DELAY_S
    while not stopping:
        started = time.monotonic()
        print(f"{datetime.now(UTC).isoformat()} keeper: starting {' '.join(command)}", file=log)
        log.flush()
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        code = child.wait()
        if stopping:
            break
        if time.monotonic() - started > STABLE_AFTER_S:
            delay = FIRST_DELAY_S
        print(
            f"{datetime.now(UTC).isoformat()} keeper: exited with {code}; again in {delay:g} s",
            file=log,
        )
        log.flush()
        time.sleep(delay)
        delay = min(MAX_DELAY_S, delay * 2)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "a", buffering=1) as log:
        return keep(argv[2:], log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
