"""Versioned SQL migrations, applied in order on start, each once, recorded in schema_migrations."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Serialises concurrent `sigecve up` processes migrating the same database.
_ADVISORY_LOCK_KEY = 0x5167EC


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every `NNNN_name.sql` shipped in the package, by version."""
    found = []
    for entry in resources.files("sigecve.db.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(version), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply_migrations(database_url: str) -> list[int]:
    """Apply the migrations this database has not seen yet; return the versions applied."""
    applied_now: list[int] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in available_migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                log.info("applied migration %04d_%s", version, name)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    return applied_now
