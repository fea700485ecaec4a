"""Putting a failure model in service: the scoring actors read the deployed model from
PostgreSQL (every node of a cluster can), and reload it when told on the live channel.

    from ml.deploy import deploy
    deploy(my_model, "postgresql://...")   # after evaluating it (ml.model.evaluate_model)

A model is anything with `features`, `threshold`, `horizon_hours`, `version`, `risk(x)` and
`top_signals(x)` (`ml.live.RiskModel`); `FailureModel` is one.
"""

from __future__ import annotations

import json
import pickle
import sys

import cloudpickle
import psycopg

from ml.live import RiskModel
from ml.model import model_metadata
from sigecve.services.live_events import CHANNEL

MODEL_DEPLOYED = "model_deployed"


def deploy(model: RiskModel, database_url: str) -> str:
    """Store `model` as the one in service and tell the running scoring actors; its version."""
    for name in ("features", "threshold", "horizon_hours", "version", "risk", "top_signals"):
        if not hasattr(model, name):
            raise TypeError(f"a failure model needs `{name}` (ml.live.RiskModel)")
    module = type(model).__module__
    if module != "__main__" and not module.startswith(("ml.", "sklearn.")):
        # The scoring actors need not have the data scientist's module: the class travels
        # with the model (what it uses from installed libraries is imported there).
        cloudpickle.register_pickle_by_value(sys.modules[module])
    metadata = json.dumps(model_metadata(model), default=str)
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            """INSERT INTO failure_models (version, metadata, model) VALUES (%s, %s, %s)
               ON CONFLICT (version) DO UPDATE
               SET metadata = EXCLUDED.metadata, model = EXCLUDED.model, deployed_at = now()""",
            (model.version, metadata, cloudpickle.dumps(model)),
        )
        conn.execute(
            "SELECT pg_notify(%s, %s)",
            (CHANNEL, json.dumps({"type": MODEL_DEPLOYED, "version": model.version})),
        )
    return model.version


def withdraw(version: str, database_url: str) -> bool:
    """Take a model out of service (the one deployed before it takes over, or none: scoring
    stops); whether it was deployed."""
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        gone = conn.execute("DELETE FROM failure_models WHERE version = %s", (version,)).rowcount
        conn.execute(
            "SELECT pg_notify(%s, %s)",
            (CHANNEL, json.dumps({"type": MODEL_DEPLOYED, "version": None})),
        )
    return gone == 1


def deployed_model(conn: psycopg.Connection) -> RiskModel | None:
    """The model last deployed, or None."""
    row = conn.execute(
        "SELECT model FROM failure_models ORDER BY deployed_at DESC, version DESC LIMIT 1"
    ).fetchone()
    return pickle.loads(row[0]) if row else None
