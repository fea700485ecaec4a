"""`sigecve lab up|down|status|fault|heal|exec`: the lab's side effects.

`up` makes the namespaces, starts a Ray node in each (the head first, a keeper around each
`ray start --block`), then `sigecve up` in the head's namespace joined to that cluster, with
the embedded PostgreSQL listening on the head's address and the Serve ingress on every
node. Every step is recorded in the state file before it is taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from sigecve.lab import faults, netns
from sigecve.lab.netns import LabError
from sigecve.lab.state import LabState, lab_dir, load, save
from sigecve.lab.topology import NODE_INTERFACE, PREFIX, Endpoint, topology
from sigecve.node_environment import ingress_behaviour, serve_environment

RAY = str(Path(sys.executable).with_name("ray"))
RAY_STARTED = "Ray runtime started."
SYSTEM_READY = "SIGEC-VE ready"
NODE_START_TIMEOUT_S = 120.0
SYSTEM_START_TIMEOUT_S = 300.0
INGRESS_TIMEOUT_S = 120.0
RAY_PORT = 6379
LAB_ID_TAG = "LAB-TAG"
# Ray notices a lost node by its health checks: every 2 s, 2 s to answer, 5 missed (about
# 10-20 s) instead of Ray's 3 s, 10 s and 5 (up to a minute): a lab's faults are short. On
# two cores shared by every node, shorter risks declaring a busy node dead.
HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "2000",
    "RAY_health_check_timeout_ms": "2000",
    "RAY_health_check_failure_threshold": "5",
}
Say = Callable[[str], None]


def _defaults(environ: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in defaults.items() if k not in environ}


def node_environment(environ: Mapping[str, str], state: LabState) -> dict[str, str]:
    """A lab Ray node's environment: the caller's (its RAY_* and SIGECVE_* settings win),
    the cluster's token, and what SIGEC-VE's ingress wants of every node (pure but for
    the open-file limit it reads)."""
    base = {k: v for k, v in environ.items() if k != "RAY_ADDRESS"}
    env = {
        **base,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": state.ray_auth_token,
        "PYTHONUNBUFFERED": "1",
        **_defaults(base, {"RAY_SERVE_ENABLE_HA_PROXY": "1", **HEALTH_CHECKS}),
    }
    env.update(serve_environment(env))
    env.update(ingress_behaviour(env))
    return env


def system_environment(environ: Mapping[str, str], state: LabState, var_dir: Path) -> dict:
    """`sigecve up`'s environment in the lab: a node's, and the lab's defaults for spreading
    over its nodes (a charge point host, gateway replica, scheduler host and scorer per
    node) where the caller set none."""
    n = str(state.nodes)
    head = state.topology.head
    env = node_environment(environ, state)
    env.update(
        {
            "SIGECVE_VAR_DIR": str(var_dir),
            "SIGECVE_DB_LISTEN_ADDRESS": head.ip,
            **_defaults(
                environ,
                {
                    "SIGECVE_CP_HOSTS": n,
                    "SIGECVE_GATEWAY_REPLICAS": n,
                    "SIGECVE_GATEWAY_REPLICAS_PER_NODE": "1",
                    "SIGECVE_SCHEDULER_HOSTS": n,
                    "SIGECVE_ML_SCORERS": n,
                    # A lab's chargers are simulated: admitted on first connection.
                    "SIGECVE_AUTO_REGISTER": "true",
                },
            ),
        }
    )
    env.pop("DATABASE_URL", None)  # the lab's database is its own
    return env


class Lab:
    """The lab whose state lives under `var_dir/lab`."""

    def __init__(
        self,
        var_dir: Path,
        environ: Mapping[str, str],
        say: Say = print,
        *,
        cli: Sequence[str],
    ) -> None:
        self.var_dir = var_dir.resolve()
        # The `sigecve` command line each node runs `up` and the chargers `simulate` with.
        self.cli = tuple(cli)
        self.dir = lab_dir(self.var_dir)
        self.environ = dict(environ)
        self.say = say

    # --- up --------------------------------------------------------------------------------

    def up(self, nodes: int, subnet: str, port: int, chargers: int = 0) -> LabState:
        netns.check_can_run()
        if load(self.var_dir) is not None:
            raise LabError(f"a lab is up already ({self.dir}/state.json): `sigecve lab down`")
        topo = topology(nodes, subnet)  # a ValueError for a bad count or subnet
        leftovers = sorted(n for n in netns.namespaces() if n.startswith(f"{PREFIX}-"))
        if leftovers:
            raise LabError(
                f"namespaces of an earlier lab are still there ({', '.join(leftovers)}): "
                "`sigecve lab down` removes them"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        state = LabState(
            nodes=nodes,
            subnet=topo.subnet,
            prefix=PREFIX,
            port=port,
            ray_port=RAY_PORT,
            # Short: Ray's Unix sockets live under it (108 characters at most).
            temp_dir=tempfile.mkdtemp(prefix=f"{PREFIX}-", dir="/tmp"),
            ray_auth_token=secrets.token_hex(16),
        )
        save(self.var_dir, state)
        try:
            self.say(f"network: {nodes} nodes on {topo.subnet} (bridge in {topo.switch_namespace})")
            netns.create(topo)
            self._start_node(state, topo.head)
            for node in topo.nodes[1:]:
                self._start_node(state, node)
            self._wait_for_nodes(state, list(topo.nodes))
            self._start_system(state)
            self.say("waiting for the ingress on every node")
            self._wait_for_ingress(state)
            if chargers:
                self._start_chargers(state, chargers)
        except BaseException:
            self.say("lab up failed: taking it down")
            with contextlib.suppress(Exception):
                self.down(quiet=True)
            raise
        state.ready = True
        save(self.var_dir, state)
        return state

    @property
    def chargers_report(self) -> Path:
        """The report of the chargers `lab up --chargers` started, once they end."""
        return self.dir / "chargers.json"

    def _log(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def _start_node(self, state: LabState, node: Endpoint) -> None:
        """A keeper running `ray start --block` in the node's namespace (not waited for)."""
        args = [
            RAY,
            "start",
            "--block",
            "--disable-usage-stats",
            f"--node-ip-address={node.ip}",
            "--num-cpus=2",
            "--object-store-memory=200000000",
        ]
        if node.is_head:
            args += [
                "--head",
                f"--port={state.ray_port}",
                f"--temp-dir={state.temp_dir}",
                "--include-dashboard=false",
            ]
        else:
            args.append(f"--address={state.topology.head.ip}:{state.ray_port}")
        log = self._log(node.name)
        node_state = state.node_state(node.name)
        node_state.starts += 1
        node_state.ray_pid = None
        # Where this start's lines begin: the log keeps every start's.
        node_state.faults.pop("kill", None)
        with log.open("a") as f:
            f.write(f"\n--- start {node_state.starts}\n")
        process = subprocess.Popen(
            netns.in_namespace(
                node.namespace, sys.executable, "-m", "sigecve.lab.keeper", str(log), "--", *args
            ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=node_environment(self.environ, state),
            start_new_session=True,  # outlives this command, and its Ctrl-C
        )
        node_state.ray_pid = process.pid
        save(self.var_dir, state)
        self.say(f"node {node.name}: starting Ray at {node.ip}")

    def _wait_for_nodes(self, state: LabState, nodes: list[Endpoint]) -> None:
        for node in nodes:
            self._wait_for_line(
                self._log(node.name),
                RAY_STARTED,
                NODE_START_TIMEOUT_S,
                f"node {node.name}",
                after=f"--- start {state.node_state(node.name).starts}\n",
            )

    def _wait_for_line(
        self, log: Path, text: str, timeout_s: float, what: str, after: str = ""
    ) -> str:
        """The first line holding `text` after the marker `after` in `log`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            content = log.read_text(errors="replace") if log.exists() else ""
            tail = content[content.rfind(after) :] if after and after in content else content
            for line in tail.splitlines():
                if text in line:
                    return line
            time.sleep(0.25)
        lines = (log.read_text(errors="replace") if log.exists() else "").splitlines()[-30:]
        raise LabError(f"{what} did not start in {timeout_s:.0f} s; {log}:\n" + "\n".join(lines))

    def _start_system(self, state: LabState) -> None:
        head = state.topology.head
        system_dir = self.dir / "system"
        system_dir.mkdir(parents=True, exist_ok=True)
        log = self._log("system")
        log.write_text("")
        command = netns.in_namespace(
            head.namespace,
            *self.cli,
            "up",
            "--host",
            "0.0.0.0",  # every node's namespace: its own address (and its loopback)
            "--port",
            str(state.port),
            "--ray-address",
            f"{head.ip}:{state.ray_port}",
            "--demo-cps",
            "0",
        )
        with log.open("a") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=system_environment(self.environ, state, system_dir),
                start_new_session=True,
            )
        state.system_pid = process.pid
        save(self.var_dir, state)
        self.say("system: starting `sigecve up` on the head")
        line = self._wait_for_line(log, SYSTEM_READY, SYSTEM_START_TIMEOUT_S, "sigecve up")
        state.admin_token = line.split("admin_token=")[1].split()[0]
        save(self.var_dir, state)

    def _wait_for_ingress(self, state: LabState) -> None:
        urls = [f"http://{node.ip}:{state.port}/api/v1/health" for node in state.topology.nodes]
        done = self._probe(state, ["wait", str(INGRESS_TIMEOUT_S), *urls])
        if done.returncode != 0:
            raise LabError(f"the ingress did not answer on every node: {done.stderr.strip()}")

    def _probe(self, state: LabState, args: list[str]) -> subprocess.CompletedProcess:
        """`sigecve.lab.probe` in the chargers' namespace, with the admin token."""
        env = {**self.environ, "SIGECVE_TOKEN": state.admin_token or ""}
        return subprocess.run(
            _in_chargers(state, "sigecve.lab.probe", *args),
            capture_output=True,
            text=True,
            env=env,
        )

    def api(self, state: LabState, method: str, path: str, body: dict | None = None) -> dict:
        """A REST call to the lab's system: {"status", "body"}."""
        args = ["call", method, f"{state.api_url()}{path}"]
        if body is not None:
            args.append(json.dumps(body))
        done = self._probe(state, args)
        try:
            return json.loads(done.stdout)
        except ValueError:
            return {"status": None, "error": done.stderr.strip()}

    def _start_chargers(self, state: LabState, count: int) -> None:
        self.api(state, "POST", "/id-tags", {"id_tag": LAB_ID_TAG, "status": "Accepted"})
        log = self._log("chargers")
        with log.open("a") as out:
            process = subprocess.Popen(
                netns.in_namespace(
                    state.topology.chargers.namespace,
                    *self.cli,
                    "simulate",
                    "--url",
                    ",".join(state.ws_urls()),
                    "--count",
                    str(count),
                    "--id-prefix",
                    "LAB-",
                    "--id-tags",
                    LAB_ID_TAG,
                    "--report",
                    str(self.chargers_report),
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environ,
                start_new_session=True,
            )
        state.simulator_pid, state.chargers = process.pid, count
        save(self.var_dir, state)
        self.say(f"chargers: {count} simulated, spread over every node (log {log})")

    # --- down ------------------------------------------------------------------------------

    def down(self, quiet: bool = False) -> str:
        """Everything the lab made, gone: processes, namespaces (their links and rules with
        them), Ray's temporary directory, the state file. Also after a crash."""
        netns.check_can_run()
        state = load(self.var_dir)
        leftovers = sorted(n for n in netns.namespaces() if n.startswith(f"{PREFIX}-"))
        if state is None and not leftovers:
            raise LabError("no lab is up")
        killed = 0
        if state is not None:
            # A clean stop first: `sigecve up` stops Serve, the actors and PostgreSQL.
            for pid in (state.simulator_pid, state.system_pid):
                _terminate(pid, timeout_s=60)
            namespaces = state.topology.namespaces
        else:
            namespaces = tuple(leftovers)
        for namespace in (*namespaces, *leftovers):
            killed += len(netns.pids(namespace))
            netns.remove(namespace)
        if state is not None:
            shutil.rmtree(state.temp_dir, ignore_errors=True)
            (self.dir / "state.json").unlink(missing_ok=True)
        summary = (
            f"SIGEC-VE lab down: {len(set(namespaces) | set(leftovers))} namespaces and "
            f"{killed} processes removed"
        )
        if not quiet:
            self.say(summary)
        return summary

    # --- faults ----------------------------------------------------------------------------

    def _state(self) -> LabState:
        netns.check_can_run()
        state = load(self.var_dir)
        if state is None:
            raise LabError("no lab is up: `sigecve lab up --nodes N` first")
        return state

    def kill(self, name: str) -> str:
        """A power cut: SIGKILL of every process of the node (`postgres`: the database's
        postmaster alone, which its supervisor starts again)."""
        state = self._state()
        if name == "postgres":
            pid = _postmaster_pid(self.dir / "system" / "pg")
            if pid is None:
                raise LabError("PostgreSQL is not running")
            os.kill(pid, signal.SIGKILL)
            return f"postgres: postmaster {pid} killed"
        node = state.topology.node(name)
        killed = netns.kill_all(node.namespace)
        node_state = state.node_state(name)
        node_state.faults["kill"] = ""
        node_state.ray_pid = None
        if node.is_head:
            state.system_pid = None
        save(self.var_dir, state)
        return f"{name}: {killed} processes killed"

    def partition(self, name: str) -> str:
        state = self._state()
        node = state.topology.node(name)
        netns.set_ruleset(node.namespace, faults.partition_ruleset())
        self._set_fault(state, name, "partition", "", replaces=("loss",))
        return f"{name}: cut off from the other nodes, the database and the chargers"

    def loss(self, name: str, percent: float) -> str:
        state = self._state()
        node = state.topology.node(name)
        netns.set_ruleset(node.namespace, faults.loss_ruleset(percent))
        self._set_fault(state, name, "loss", f"{percent:g}", replaces=("partition",))
        return f"{name}: {percent:g} % of packets in and out dropped"

    def slow(self, name: str, rate: str) -> str:
        state = self._state()
        node = state.topology.node(name)
        qdisc = faults.slow_qdisc(rate)
        netns.set_qdisc(node.namespace, NODE_INTERFACE, qdisc)
        netns.set_qdisc(state.topology.switch_namespace, node.switch_port, qdisc)
        self._set_fault(state, name, "slow", rate)
        return f"{name}: its link slowed to {rate} each way"

    def _set_fault(
        self, state: LabState, name: str, kind: str, arg: str, replaces: tuple[str, ...] = ()
    ) -> None:
        node_state = state.node_state(name)
        for other in replaces:
            node_state.faults.pop(other, None)
        node_state.faults[kind] = arg
        save(self.var_dir, state)

    def heal(self, name: str) -> str:
        """Every fault of the node undone; a killed node started again (it rejoins)."""
        state = self._state()
        node = state.topology.node(name)
        node_state = state.node_state(name)
        netns.clear_ruleset(node.namespace)
        netns.clear_qdisc(node.namespace, NODE_INTERFACE)
        netns.clear_qdisc(state.topology.switch_namespace, node.switch_port)
        was = dict(node_state.faults)
        node_state.faults.clear()
        save(self.var_dir, state)
        if "kill" in was or not netns.pids(node.namespace):
            if node.is_head:
                raise LabError(
                    "the head was killed: the cluster and the system went with it "
                    "(`sigecve lab down`, then up again)"
                )
            self._start_node(state, node)
            self._wait_for_nodes(state, [node])
            return f"{name}: started again; it rejoins the cluster"
        return f"{name}: healed ({', '.join(was) or 'no fault was set'})"

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict:
        """The lab's nodes, their faults and processes; and from the system itself (its
        `/cluster` view), each Ray node's actors and the chargers on it."""
        state = self._state()
        nodes = []
        for node in state.topology.nodes:
            node_state = state.node_state(node.name)
            nodes.append(
                {
                    "name": node.name,
                    "ip": node.ip,
                    "url": state.ws_url(node.ip),
                    "processes": len(netns.pids(node.namespace)),
                    "faults": node_state.faults,
                    "starts": node_state.starts,
                }
            )
        cluster = self.api(state, "GET", "/cluster") if state.admin_token else {}
        return {
            "ready": state.ready,
            "subnet": state.subnet,
            "api": state.api_url(),
            "admin_token": state.admin_token,
            "nodes": nodes,
            "cluster": cluster.get("body") if cluster.get("status") == 200 else None,
            "cluster_error": None if cluster.get("status") == 200 else cluster,
        }

    # --- check -----------------------------------------------------------------------------

    def check(self, report: Path | None = None) -> int:
        """The checker (sigecve.lab.check) on a simulator's report: by default the lab's own
        chargers, which it ends first (after reading which ones the CSMS has connected).
        Its exit status: 0 clean, 1 loss or duplicate, 2 bad input."""
        state = self._state()
        args = []
        if report is None:
            if state.simulator_pid is None or not psutil.pid_exists(state.simulator_pid):
                raise LabError(
                    "the lab runs no chargers (`lab up --chargers N`): "
                    "give the report of your own run (`lab check --report FILE`)"
                )
            report = self.chargers_report
            args = ["--stop", str(state.simulator_pid), "--expect", str(state.chargers)]
            self.say(f"ending the lab's {state.chargers} chargers for their report ({report})")
        url_file = self.dir / "system" / "database_url"
        if not url_file.exists():
            raise LabError(f"the lab's system has not written {url_file}")
        done = subprocess.run(
            _in_chargers(
                state,
                "sigecve.lab.check",
                str(report.resolve()),
                url_file.read_text().strip(),
                *args,
            ),
            env=self.environ,
        )
        if report == self.chargers_report:
            state.simulator_pid = None
            save(self.var_dir, state)
        return done.returncode

    def exec_argv(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run `argv` in the chargers' namespace, with
        the lab's URLs and admin token at hand."""
        state = self._state()
        env = {
            **self.environ,
            "SIGECVE_TOKEN": state.admin_token or "",
            "SIGECVE_LAB_URLS": ",".join(state.ws_urls()),
            "SIGECVE_LAB_API": state.api_url(),
        }
        return netns.in_namespace(state.topology.chargers.namespace, *argv), env


def _in_chargers(state: LabState, module: str, *args: str) -> list[str]:
    """The command line running `python -m module args` in the chargers' namespace."""
    return netns.in_namespace(
        state.topology.chargers.namespace, sys.executable, "-m", module, *args
    )


def _terminate(pid: int | None, timeout_s: float) -> None:
    """SIGTERM to `pid` and its process group, SIGKILL if it is not gone in `timeout_s`."""
    if pid is None:
        return
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except psutil.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _postmaster_pid(pgdata: Path) -> int | None:
    from sigecve.db.embedded import EmbeddedPostgres

    return EmbeddedPostgres(pgdata).pid
