"""What a lab is made of, kept in `var/lab/state.json` from its first step on, so that `sigecve
lab down` removes it all, also after a crash of `lab up` or of the machine's processes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from sigecve.lab.topology import Topology, topology


class NodeState(BaseModel):
    name: str
    ray_pid: int | None = None  # its `ray start --block`
    faults: dict[str, str] = Field(default_factory=dict)  # kind -> argument ("loss": "5")
    starts: int = 0  # how often its Ray node was started (1 + heals after a kill)


class LabState(BaseModel):
    nodes: int
    subnet: str
    prefix: str
    port: int  # SIGEC-VE's HTTP port on every node
    ray_port: int
    temp_dir: str  # Ray's (short: Unix socket paths)
    ray_auth_token: str
    system_pid: int | None = None  # `sigecve up`, in the head's namespace
    simulator_pid: int | None = None  # `lab up --chargers`
    chargers: int = 0  # how many it runs
    admin_token: str | None = None
    ready: bool = False
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    node_states: list[NodeState] = Field(default_factory=list)

    @property
    def topology(self) -> Topology:
        return topology(self.nodes, self.subnet, self.prefix)

    def node_state(self, name: str) -> NodeState:
        self.topology.node(name)  # a LookupError naming the nodes if unknown
        for state in self.node_states:
            if state.name == name:
                return state
        state = NodeState(name=name)
        self.node_states.append(state)
        return state

    def ws_url(self, ip: str) -> str:
        return f"ws://{ip}:{self.port}/ocpp"

    def api_url(self) -> str:
        return f"http://{self.topology.head.ip}:{self.port}/api/v1"

    def ws_urls(self) -> list[str]:
        return [self.ws_url(node.ip) for node in self.topology.nodes]


def lab_dir(var_dir: Path) -> Path:
    return var_dir / "lab"


def state_file(var_dir: Path) -> Path:
    return lab_dir(var_dir) / "state.json"


def load(var_dir: Path) -> LabState | None:
    path = state_file(var_dir)
    if not path.exists():
        return None
    return LabState.model_validate(json.loads(path.read_text()))


def save(var_dir: Path, state: LabState) -> None:
    """Written whole and renamed into place: a crash leaves the old state or the new one."""
    path = state_file(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds tokens
    with os.fdopen(fd, "w") as f:
        f.write(state.model_dump_json(indent=2) + "\n")
    tmp.replace(path)


def forget(var_dir: Path) -> None:
    state_file(var_dir).unlink(missing_ok=True)
