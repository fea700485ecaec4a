"""The telemetry tables of the contract read from SIGEC-VE's database: `sigecve ml export`, and
the live scoring actors' reads of recent telemetry."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import psycopg

from ml.telemetry import Telemetry, conform

# Each query keeps rows in [since, until) and, when `cps` is given, of those charge points.
QUERIES = {
    "charge_points": """
        SELECT cp.id AS charge_point_id, cp.vendor, cp.model, cp.firmware_version,
               cp.registered_at AS commissioned_at, cp.site_id, cp.max_power_kw,
               (SELECT count(*) FROM connectors c
                 WHERE c.charge_point_id = cp.id AND c.connector_id > 0) AS connector_count
        FROM charge_points cp WHERE cp.decommissioned_at IS NULL
          AND (%(cps)s::text[] IS NULL OR cp.id = ANY(%(cps)s))""",
    "meter_values": """
        SELECT charge_point_id, connector_id, timestamp, measurand, value, phase, unit,
               transaction_id::text AS transaction_id, context
        FROM meter_values WHERE timestamp >= %(since)s AND timestamp < %(until)s
          AND (%(cps)s::text[] IS NULL OR charge_point_id = ANY(%(cps)s))""",
    "status_events": """
        SELECT charge_point_id, connector_id, timestamp, status, error_code,
               vendor_error_code, info
        FROM status_events WHERE timestamp >= %(since)s AND timestamp < %(until)s
          AND (%(cps)s::text[] IS NULL OR charge_point_id = ANY(%(cps)s))""",
    "transactions": """
        SELECT charge_point_id, connector_id,
               COALESCE(ocpp_transaction_id, transaction_id::text) AS transaction_id,
               started_at, stopped_at, meter_stop_wh - meter_start_wh AS energy_wh,
               stop_reason, id_tag,
               start_id_tag_status IS DISTINCT FROM 'Accepted'
                   AND start_id_tag_status IS NOT NULL AS start_failed
        FROM transactions WHERE started_at >= %(since)s AND started_at < %(until)s
          AND (%(cps)s::text[] IS NULL OR charge_point_id = ANY(%(cps)s))""",
    "connectivity": """
        SELECT charge_point_id, at AS timestamp, event
        FROM connectivity_events WHERE at >= %(since)s AND at < %(until)s
          AND (%(cps)s::text[] IS NULL OR charge_point_id = ANY(%(cps)s))""",
    "maintenance": """
        SELECT charge_point_id, failed_at, restored_at, failure_mode, notes
        FROM maintenance WHERE failed_at >= %(since)s AND failed_at < %(until)s
          AND (%(cps)s::text[] IS NULL OR charge_point_id = ANY(%(cps)s))""",
}
FAR_FUTURE = pd.Timestamp("9999-01-01", tz="UTC")


def read_telemetry(
    conn: psycopg.Connection,
    since: pd.Timestamp,
    until: pd.Timestamp = FAR_FUTURE,
    charge_point_ids: Sequence[str] | None = None,
) -> Telemetry:
    """Every table's rows in [since, until) (charge points: those in service), of the given
    charge points or all."""
    params = {
        "since": since.to_pydatetime(),
        "until": until.to_pydatetime(),
        "cps": list(charge_point_ids) if charge_point_ids is not None else None,
    }
    tables = {}
    for name, sql in QUERIES.items():
        cur = conn.execute(sql, params)
        columns = [d.name for d in cur.description or []]
        tables[name] = conform(name, pd.DataFrame(cur.fetchall(), columns=columns))
    return Telemetry(**tables)


def export(database_url: str, since: pd.Timestamp) -> Telemetry:
    """Every table from `since` on (charge points: all in service)."""
    with psycopg.connect(database_url) as conn:
        return read_telemetry(conn, since)
