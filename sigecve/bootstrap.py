"""What a new or restarted SIGEC-VE database needs before anything serves: the schema, the
bootstrap admin token, and (for `sigecve up`'s demo) the demo fleet."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import psycopg

from sigecve.db.migrate import apply_migrations
from sigecve.domain import IdTagStatus
from sigecve.security import hash_api_token, hash_password, new_api_token
from sigecve.settings import Settings
from sigecve.simulator.fleet import charge_point_ids

DEMO_PREFIX = "DEMO-"
DEMO_ID_TAGS = ("DEMO-TAG",)
DEMO_SHARE_201 = 0.25  # a quarter of the demo fleet speaks OCPP 2.0.1,
DEMO_SHARE_21 = 0.25  # a quarter OCPP 2.1, the rest 1.6
DEMO_SITE_KW_PER_CP = 7.4


def _read_or_create_secret(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def bootstrap_database(settings: Settings, database_url: str, *, cold_start: bool = True) -> str:
    """Migrate, install the admin token; return it. On a cold start nobody is connected yet."""
    apply_migrations(database_url)
    token = settings.admin_token or _read_or_create_secret(
        settings.var_dir / "admin_token", new_api_token
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO api_tokens (name, token_hash, role)
               VALUES ('bootstrap admin', %s, 'admin') ON CONFLICT (token_hash) DO NOTHING""",
            (hash_api_token(token),),
        )
        if cold_start:
            conn.execute("UPDATE charge_points SET connected = false WHERE connected")
    return token


def register_demo_fleet(settings: Settings, database_url: str) -> str:
    """Register the demo charge points and id tags once; return the password template."""
    secret = _read_or_create_secret(settings.var_dir / "demo_secret", lambda: secrets.token_hex(8))
    template = f"demo-{secret}-{{id}}"
    ids = charge_point_ids(DEMO_PREFIX, settings.demo_cps)
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A grid limit below the fleet's total power, so that smart charging has work to do.
        conn.execute(
            """INSERT INTO sites (id, name, max_power_kw) VALUES ('DEMO', 'Demo car park', %s)
               ON CONFLICT (id) DO NOTHING""",
            (round(DEMO_SITE_KW_PER_CP * max(1, settings.demo_cps), 1),),
        )
        known = {
            r[0] for r in conn.execute("SELECT id FROM charge_points WHERE id = ANY(%s)", (ids,))
        }
        for cp_id in ids:
            if cp_id not in known:
                conn.execute(
                    """INSERT INTO charge_points (id, password_hash, site_id)
                       VALUES (%s, %s, 'DEMO')""",
                    (cp_id, hash_password(template.format(id=cp_id))),
                )
        for tag in DEMO_ID_TAGS:
            conn.execute(
                "INSERT INTO id_tags (id_tag, status) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (tag, IdTagStatus.accepted.value),
            )
    return template
