"""A Ray cluster of several nodes on this one machine, for the cluster fault tests.

Each node is a `ray start --block` of its own, in a process group of its own, so that
stopping a node ends exactly the processes that node started (`ray stop` would end every Ray
on the machine). Every node shares one token (Ray's token authentication) and gets ports of
its own where Ray's defaults would collide on one machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from sigecve.node_environment import ingress_environment, serve_environment
from sigecve.ports import free_listening_port
from tests.conftest import follow_output

RAY = str(Path(sys.executable).with_name("ray"))
STARTED = "Ray runtime started."
START_TIMEOUT_S = 90.0


class RayNode:
    """One `ray start --block` process group; `kill()` is the node lost (power cut, OOM)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            start_new_session=True,
        )
        if not follow_output(self.process, self.output, lambda x: STARTED in x, START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("ray start failed:\n" + "".join(self.output[-40:]))

    def processes(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []

    def count(self, title: str) -> int:
        """This node's worker processes whose title starts with `title`."""
        n = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                n += bool(p.cmdline()[:1] and p.cmdline()[0].startswith(title))
        return n

    def kill(self) -> None:
        """Every process of the node at once (Ray's worker processes leave the group)."""
        tree = self.processes()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        self.process.wait(30)
        psutil.wait_procs(tree, timeout=30)


class LocalCluster:
    """A head and `workers` worker nodes; `env` is what a client needs to join it."""

    def __init__(
        self,
        workers: int = 1,
        cpus_per_node: int = 2,
        node_env: dict[str, str] | None = None,
        dashboard: bool = False,
    ) -> None:
        # Unix socket paths must stay short: a temp dir of its own under /tmp.
        self.temp_dir = tempfile.mkdtemp(prefix="rc-", dir="/tmp")
        self.port = free_listening_port()
        self.address = f"127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "SIGECVE_"))}
        self.env = {
            **base,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_SERVE_ENABLE_HA_PROXY": "1",
            # What the launcher configs set on every node, as `sigecve up` does alone.
            **serve_environment({}),
            **(node_env or {}),
        }
        # The dashboard serves Ray's REST API (`serve deploy`, jobs).
        self.dashboard_port = free_listening_port() if dashboard else None
        self.nodes: list[RayNode] = []
        try:
            self.head = self._start(["--head", f"--port={self.port}"], 20_000, cpus_per_node)
            self.workers = [
                self._start([f"--address={self.address}"], 20_000 + 600 * (i + 1), cpus_per_node)
                for i in range(workers)
            ]
        except Exception:
            self.stop()
            raise

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _start(self, args: list[str], block_from: int, cpus: int) -> RayNode:
        ports = {
            flag: free_listening_port()
            for flag in (
                "--dashboard-agent-listen-port",
                "--dashboard-agent-grpc-port",
                "--metrics-export-port",
                "--runtime-env-agent-port",
            )
        }
        head_only = []
        if "--head" in args:
            ports["--ray-client-server-port"] = free_listening_port()
            head_only = [f"--temp-dir={self.temp_dir}"]
            if self.dashboard_port is None:
                head_only.append("--include-dashboard=false")
            else:
                head_only += [
                    "--include-dashboard=true",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={self.dashboard_port}",
                ]
        node = RayNode(
            [
                *args,
                f"--num-cpus={cpus}",
                "--object-store-memory=200000000",
                *head_only,
                *(f"{flag}={port}" for flag, port in ports.items()),
            ],
            {**self.env, **ingress_environment(self.env, block_from=block_from)},
        )
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
