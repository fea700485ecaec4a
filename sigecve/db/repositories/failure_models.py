"""Stored failure models."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.domain import (
    FailureModelInfo,
)


class FailureModelRepository:
    """The failure models deployed to the scoring actors (ml/deploy.py writes them)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def current(self) -> FailureModelInfo | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT version, deployed_at, metadata FROM failure_models
                   ORDER BY deployed_at DESC, version DESC LIMIT 1"""
            )
            row = await cur.fetchone()
        if row is None:
            return None
        meta = row["metadata"]
        return FailureModelInfo(
            version=row["version"],
            deployed_at=row["deployed_at"],
            trained_at=meta.get("trained_at"),
            features=meta.get("features", []),
            horizon_hours=meta.get("horizon_hours"),
            threshold=meta.get("threshold"),
            metrics=meta.get("metrics") or {},
        )
