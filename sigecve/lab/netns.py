"""Network namespaces, links, rules and processes, through `ip`, `nft` and `tc` (iproute2
and nftables, Debian's packages)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

from sigecve.lab.faults import TABLE
from sigecve.lab.topology import BRIDGE, NODE_INTERFACE, Topology


class LabError(Exception):
    """What the operator gets as one line: the lab cannot do what was asked."""


TOOLS = {"ip": "iproute2", "nft": "nftables", "tc": "iproute2"}


def check_can_run() -> None:
    """Linux, root, and the tools: else a LabError saying what is missing."""
    if not sys.platform.startswith("linux"):
        raise LabError("sigecve lab needs Linux (network namespaces)")
    if os.geteuid() != 0:
        raise LabError("sigecve lab needs root (it makes network namespaces and firewall rules)")
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if missing:
        raise LabError(
            f"sigecve lab needs {', '.join(missing)}: apt-get install -y iproute2 nftables"
        )


def run(*args: str, input: str | None = None, check: bool = True) -> str:
    """A command's output; a LabError with its stderr if it fails and `check`."""
    done = subprocess.run(list(args), input=input, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def in_namespace(namespace: str, *args: str) -> list[str]:
    """The command line that runs `args` in `namespace`."""
    return ["ip", "netns", "exec", namespace, *args]


def namespaces() -> set[str]:
    return {line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()}


def create(topology: Topology) -> None:
    """The switch namespace with its bridge, and each endpoint's namespace with a veth into it."""
    sw = topology.switch_namespace
    run("ip", "netns", "add", sw)
    run("ip", "-n", sw, "link", "add", BRIDGE, "type", "bridge")
    run("ip", "-n", sw, "link", "set", BRIDGE, "up")
    for endpoint in topology.endpoints:
        ns = endpoint.namespace
        run("ip", "netns", "add", ns)
        run(
            "ip",
            "link",
            "add",
            NODE_INTERFACE,
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            endpoint.switch_port,
            "netns",
            sw,
        )
        run("ip", "-n", sw, "link", "set", endpoint.switch_port, "master", BRIDGE)
        run("ip", "-n", sw, "link", "set", endpoint.switch_port, "up")
        run(
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            f"{endpoint.ip}/{topology.prefix_length}",
            "dev",
            NODE_INTERFACE,
        )
        run("ip", "-n", ns, "link", "set", NODE_INTERFACE, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        # A reconnecting fleet opens many connections from one address.
        run(*in_namespace(ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=15000 64999"))


def pids(namespace: str) -> list[int]:
    """Every process whose network namespace is `namespace`."""
    out = run("ip", "netns", "pids", namespace, check=False)
    return [int(p) for p in out.split()]


def kill_all(namespace: str, timeout_s: float = 10.0) -> int:
    """SIGKILL every process in `namespace` (again, for those forked meanwhile) until none is
    left; how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        alive = pids(namespace)
        if not alive:
            return len(killed)
        if time.monotonic() > deadline:
            raise LabError(f"processes in {namespace} survive SIGKILL: {alive}")
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.1)


def remove(namespace: str) -> None:
    """The namespace gone, with its links and rules (its processes killed first)."""
    if namespace not in namespaces():
        return
    kill_all(namespace)
    run("ip", "netns", "delete", namespace)


def set_ruleset(namespace: str, ruleset: str) -> None:
    """The lab's nftables table in `namespace` replaced by `ruleset` (one atomic load)."""
    clear_ruleset(namespace)
    run(*in_namespace(namespace, "nft", "-f", "-"), input=ruleset)


def clear_ruleset(namespace: str) -> None:
    run(*in_namespace(namespace, "nft", "delete", "table", "inet", TABLE), check=False)


def ruleset(namespace: str) -> str:
    return run(*in_namespace(namespace, "nft", "list", "ruleset"), check=False)


def set_qdisc(namespace: str, device: str, qdisc: list[str]) -> None:
    clear_qdisc(namespace, device)
    run("ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", *qdisc)


def clear_qdisc(namespace: str, device: str) -> None:
    run("ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", device, "root", check=False)
