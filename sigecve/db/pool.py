"""One async connection pool per process (psycopg_pool)."""

from __future__ import annotations

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

DEFAULT_TIMEOUT_S = 5.0


async def open_pool(
    database_url: str, *, max_size: int = 4, timeout_s: float = DEFAULT_TIMEOUT_S
) -> AsyncConnectionPool:
    """An open pool of autocommit connections: each statement is committed when it returns.
    A caller waits at most `timeout_s` for a connection (psycopg's default, 30 s, is longer
    than a charger waits for its reply: while the database is away it would be answered
    after it gave up)."""
    pool = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
        name="sigecve",
        timeout=timeout_s,
        # A connection is checked as it is handed out (one round trip on the local socket):
        # after a database restart every caller gets a live connection at once, instead of
        # each pooled connection failing once first.
        check=AsyncConnectionPool.check_connection,
        # psycopg retries a failed connection with a delay doubling until this (default
        # 5 min): after a 20 s outage the next try could come 16 s after the database is
        # back. Giving up soon, the next request that needs a connection tries at once.
        reconnect_timeout=timeout_s,
    )
    await pool.open(wait=True, timeout=30)
    return pool
