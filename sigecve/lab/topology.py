"""The lab's network as data: names, namespaces and addresses of its nodes (pure).

Interface names are the same in every node's namespace (`eth0`), each namespace having its
own; the bridge's ports in the switch namespace are named after the node's index, within
Linux's 15 characters.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

PREFIX = "sgvlab"
DEFAULT_SUBNET = "10.213.0.0/24"
MAX_NODES = 32
NODE_INTERFACE = "eth0"
BRIDGE = "br0"
CHARGERS = "chargers"  # the namespace the simulated chargers (and `sigecve lab exec`) run in


@dataclass(frozen=True)
class Endpoint:
    """One namespace on the lab's bridge."""

    name: str  # what users call it: head, worker-1, chargers
    namespace: str
    ip: str
    switch_port: str  # its veth's peer on the bridge

    @property
    def is_head(self) -> bool:
        return self.name == "head"


@dataclass(frozen=True)
class Topology:
    subnet: str
    prefix_length: int
    switch_namespace: str
    nodes: tuple[Endpoint, ...]  # the head first
    chargers: Endpoint

    @property
    def head(self) -> Endpoint:
        return self.nodes[0]

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return (*self.nodes, self.chargers)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of the lab, the switch's last (the others' links end in it)."""
        return (*(e.namespace for e in self.endpoints), self.switch_namespace)

    def node(self, name: str) -> Endpoint:
        for endpoint in self.nodes:
            if endpoint.name == name:
                return endpoint
        known = ", ".join(e.name for e in self.nodes)
        raise LookupError(f"no lab node {name!r} (the nodes are {known})")


def node_names(count: int) -> list[str]:
    return ["head", *(f"worker-{i}" for i in range(1, count))]


def topology(nodes: int, subnet: str = DEFAULT_SUBNET, prefix: str = PREFIX) -> Topology:
    """The lab of `nodes` Ray nodes on `subnet`: the head at the subnet's first address, the
    workers after it, the chargers at its last."""
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"a lab has 1 to {MAX_NODES} nodes, not {nodes}")
    try:
        network = ipaddress.IPv4Network(subnet)
    except ValueError as e:
        raise ValueError(f"not an IPv4 subnet: {subnet!r} ({e})") from e
    if not network.is_private:
        raise ValueError(f"the lab's subnet must be private (RFC 1918), not {subnet}")
    hosts = list(network.hosts())
    if len(hosts) < nodes + 1:
        raise ValueError(f"{subnet} has too few addresses for {nodes} nodes and the chargers")
    endpoints = tuple(
        Endpoint(name, f"{prefix}-{name}", str(hosts[i]), f"p{i}")
        for i, name in enumerate(node_names(nodes))
    )
    chargers = Endpoint(CHARGERS, f"{prefix}-{CHARGERS}", str(hosts[-1]), "pc")
    return Topology(
        subnet=str(network),
        prefix_length=network.prefixlen,
        switch_namespace=f"{prefix}-switch",
        nodes=endpoints,
        chargers=chargers,
    )
