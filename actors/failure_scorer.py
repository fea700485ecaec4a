"""Failure-scoring actors: each looks after the charge points whose id hashes to it, keeps
their feature state, scores them all on a schedule and each one soon after a notable event
(a fault or error code, a session's end, a dropped connection), and raises alerts. They read
the database and the live channel only, so scoring never slows the OCPP path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import pandas as pd
import psycopg
import ray
from psycopg_pool import ConnectionPool

from ml.deploy import MODEL_DEPLOYED, deploy, deployed_model
from ml.live import FeatureState, RiskModel, record_scores, score_charge_points
from sigecve.placement import RAY_NAMESPACE, host_index
from sigecve.services.live_events import LiveFeed
from sigecve.settings import Settings

log = logging.getLogger(__name__)

NAME_PREFIX = "failure-scorer-"
BATCH = 500  # charge points scored together (one read of today's telemetry per table)
# More drops than this between two event runs are a node or network event, not each
# charger's: those chargers wait for the scheduled run instead of being scored at once
# while they reconnect (10,000 scored in the middle of a reconnection wave).
MASS_DROPS = 200


def scorer_name(index: int) -> str:
    return f"{NAME_PREFIX}{index}"


def is_notable(event: dict[str, Any]) -> bool:
    """Events after which a charger's risk may have moved (pure)."""
    kind = event.get("type")
    if kind == "transaction_stopped":
        return True
    if kind == "connector_status":
        return event.get("status") == "Faulted" or event.get("error_code") not in (
            None,
            "NoError",
        )
    return is_drop(event)


def is_drop(event: dict[str, Any]) -> bool:
    return event.get("type") == "connection" and event.get("connected") is False


def to_score_after_events(notable: set[str], dropped: set[str]) -> list[str]:
    """The chargers an event run scores (pure): every one with a notable event, and those
    only dropped unless so many dropped at once that it was the cluster's doing."""
    return sorted(notable | dropped if len(dropped) <= MASS_DROPS else notable)


def bootstrap_failure_model() -> RiskModel:
    """A model trained on a generated fleet: scoring works from the first start, until one
    trained on the operator's own fleet replaces it."""
    from ml.generate import FleetSpec, generate
    from ml.model import train

    model, _ = train(generate(FleetSpec(charge_points=120, days=180, seed=7)))
    model.version = f"generated-{model.version}"
    return model


START_RETRY_S = 5.0


# Restarted by Ray when its process dies; it starts itself (no supervisor needed) and
# rebuilds its feature state from `telemetry_daily`.
# A token CPU share and SPREAD: over the nodes of a cluster (see ChargePointHost).
@ray.remote(num_cpus=0.01, max_concurrency=100, max_restarts=-1)
class FailureScorer:
    def __init__(self, settings: Settings, database_url: str, index: int) -> None:
        # Its log (Ray's worker log): models loaded, scoring runs and their failures.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        self._settings = settings
        self._database_url = database_url
        self._index = index
        self._count = settings.failure_scorers
        self._state = FeatureState()
        self._model: RiskModel | None = None
        # Sync connections for the scoring threads, checked as they are handed out (as the
        # async pools are): after a database restart the first use gets a live one.
        self._pool = ConnectionPool(
            database_url,
            min_size=0,
            max_size=2,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,
            open=False,
        )
        self._scoring = asyncio.Lock()
        self._pending: set[str] = set()
        self._dropped: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self._feed: LiveFeed | None = None
        self._stats = {"scored": 0, "raised": 0, "runs": 0, "last_run_s": None, "errors": 0}
        # An async actor's constructor runs on its event loop.
        self._starting = asyncio.get_running_loop().create_task(self._start_until_done())

    async def _start_until_done(self) -> None:
        """Start, retrying while the database is away (a restart of both at once)."""
        while True:
            try:
                await self.start()
                return
            except Exception:
                log.exception("failure scorer %d: start failed; retrying", self._index)
                for task in self._tasks:
                    task.cancel()
                self._tasks.clear()
                if self._feed is not None:
                    with contextlib.suppress(Exception):
                        await self._feed.close()
                    self._feed = None
                self._started = False
                await asyncio.sleep(START_RETRY_S)

    async def start(self) -> str | None:
        """Load the deployed model (training the bootstrap one if there is none and this is
        the first scorer), subscribe to the live channel, start the schedule. Once."""
        if self._started:
            return self.model_version()
        self._started = True
        self._model = await asyncio.to_thread(self._load_model)
        if self._model is None and self._index == 0 and self._settings.bootstrap_model:
            self._tasks.append(asyncio.create_task(self._bootstrap()))
        self._feed = LiveFeed(self._database_url)
        events = await self._feed.subscribe()
        self._tasks += [
            asyncio.create_task(self._listen(events)),
            asyncio.create_task(self._on_events()),
            asyncio.create_task(self._every(self._settings.score_interval_s)),
        ]
        return self.model_version()

    def model_version(self) -> str | None:
        return self._model.version if self._model is not None else None

    def _load_model(self) -> RiskModel | None:
        self._pool.open()  # no-op once open
        with self._pool.connection() as conn:
            return deployed_model(conn)

    async def _bootstrap(self) -> None:
        try:
            model = await asyncio.to_thread(bootstrap_failure_model)
            # Deploying notifies every scorer (this one too) to load it.
            await asyncio.to_thread(deploy, model, self._database_url)
        except Exception:
            log.exception("failure scorer: training the bootstrap model failed")

    async def reload_model(self) -> str | None:
        """Take the deployed model (none deployed: scoring stops)."""
        self._model = await asyncio.to_thread(self._load_model)
        log.info("failure scorer %d: model %s", self._index, self.model_version())
        return self.model_version()

    async def _listen(self, events: asyncio.Queue) -> None:
        while True:
            event = await events.get()
            try:
                if event is None:  # lagged: resubscribe; the scheduled run scores the missed
                    assert self._feed is not None
                    self._feed.unsubscribe(events)
                    events = await self._resubscribe()
                elif event.get("type") == MODEL_DEPLOYED:
                    await self.reload_model()
                elif is_notable(event) and self._mine(event.get("charge_point_id", "")):
                    (self._dropped if is_drop(event) else self._pending).add(
                        event["charge_point_id"]
                    )
                    self._wake.set()
            except Exception:  # the database away a moment: the next event tries again
                log.exception("failure scorer %d: handling %s failed", self._index, event)
                await asyncio.sleep(1.0)

    async def _resubscribe(self) -> asyncio.Queue:
        assert self._feed is not None
        while True:
            try:
                return await self._feed.subscribe()
            except Exception:
                log.exception("failure scorer %d: the live channel is away", self._index)
                await asyncio.sleep(1.0)

    async def _on_events(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._settings.score_event_delay_s)
            self._wake.clear()
            pending = to_score_after_events(self._pending, self._dropped)
            self._pending, self._dropped = set(), set()
            if not pending:
                continue
            with contextlib.suppress(Exception):
                await self.score(pending)

    async def _every(self, seconds: float) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.score()
            await asyncio.sleep(seconds)

    def _mine(self, charge_point_id: str) -> bool:
        return host_index(charge_point_id, self._count) == self._index

    async def score(self, charge_point_ids: list[str] | None = None) -> dict[str, int]:
        """Score the given charge points (of this scorer's share), or all of its share;
        how many were scored and how many alerts raised."""
        if self._model is None:
            return {"scored": 0, "raised": 0}
        async with self._scoring:
            started = time.monotonic()
            try:
                scored, raised = await asyncio.to_thread(self._score, charge_point_ids)
            except Exception:
                self._stats["errors"] += 1
                log.exception("failure scorer %d: scoring failed", self._index)
                raise
            self._stats["scored"] += scored
            self._stats["raised"] += raised
            self._stats["runs"] += 1
            self._stats["last_run_s"] = round(time.monotonic() - started, 3)
            log.info(
                "failure scorer %d: %d scored, %d alerts raised in %.2f s",
                self._index,
                scored,
                raised,
                self._stats["last_run_s"],
            )
            return {"scored": scored, "raised": raised}

    def _score(self, charge_point_ids: list[str] | None) -> tuple[int, int]:
        self._pool.open()
        with self._pool.connection() as conn:
            return self._score_with(conn, charge_point_ids)

    def _score_with(
        self, conn: psycopg.Connection, charge_point_ids: list[str] | None
    ) -> tuple[int, int]:
        model = self._model
        assert model is not None
        if charge_point_ids is None:
            charge_point_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM charge_points WHERE decommissioned_at IS NULL ORDER BY id"
                )
            ]
        # Chargers under repair (an open work order) are down, not about to fail.
        under_repair = {
            r[0]
            for r in conn.execute(
                "SELECT charge_point_id FROM maintenance WHERE restored_at IS NULL"
            )
        }
        mine = [c for c in charge_point_ids if self._mine(c) and c not in under_repair]
        if not mine:
            return 0, 0
        scored = raised = 0
        at = pd.Timestamp.now(tz="UTC")
        for i in range(0, len(mine), BATCH):
            scores = score_charge_points(conn, model, self._state, mine[i : i + BATCH], at)
            scored += len(scores)
            raised += record_scores(conn, scores, model)
        return scored, raised

    async def stop(self) -> None:
        self._starting.cancel()
        for task in self._tasks:
            task.cancel()
        if self._feed is not None:
            await self._feed.close()
        self._pool.close()


def start_scorers(settings: Settings, database_url: str, *, detached: bool = False) -> list:
    """The named scoring actors, started (existing ones are reused); detached ones outlive
    the caller (Serve's application builders)."""
    scorers = [
        FailureScorer.options(
            name=scorer_name(i),
            namespace=RAY_NAMESPACE,
            get_if_exists=True,
            lifetime="detached" if detached else None,
            scheduling_strategy="SPREAD",
        ).remote(settings, database_url, i)
        for i in range(settings.failure_scorers)
    ]
    ray.get([s.start.remote() for s in scorers])
    return scorers


def scorers(settings: Settings) -> list:
    return [
        ray.get_actor(scorer_name(i), namespace=RAY_NAMESPACE)
        for i in range(settings.failure_scorers)
    ]


def stop_all() -> None:
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == RAY_NAMESPACE and entry["name"].startswith(NAME_PREFIX):
            with contextlib.suppress(Exception):
                actor = ray.get_actor(entry["name"], namespace=RAY_NAMESPACE)
                ray.get(actor.stop.remote(), timeout=5)
                ray.kill(actor)
