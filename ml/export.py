"""`sigecve ml export`: the telemetry tables of the contract, read from SIGEC-VE's database."""

from __future__ import annotations

import pandas as pd
import psycopg

from ml.telemetry import Telemetry, conform

QUERIES = {
    "charge_points": """
        SELECT cp.id AS charge_point_id, cp.vendor, cp.model, cp.firmware_version,
               cp.registered_at AS commissioned_at, cp.site_id, cp.max_power_kw,
               (SELECT count(*) FROM connectors c
                 WHERE c.charge_point_id = cp.id AND c.connector_id > 0) AS connector_count
        FROM charge_points cp WHERE cp.decommissioned_at IS NULL""",
    "meter_values": """
        SELECT charge_point_id, connector_id, timestamp, measurand, value, phase, unit,
               transaction_id::text AS transaction_id, context
        FROM meter_values WHERE timestamp >= %(since)s""",
    "status_events": """
        SELECT charge_point_id, connector_id, timestamp, status, error_code,
               vendor_error_code, info
        FROM status_events WHERE timestamp >= %(since)s""",
    "transactions": """
        SELECT charge_point_id, connector_id,
               COALESCE(ocpp_transaction_id, transaction_id::text) AS transaction_id,
               started_at, stopped_at, meter_stop_wh - meter_start_wh AS energy_wh,
               stop_reason, id_tag,
               start_id_tag_status IS DISTINCT FROM 'Accepted'
                   AND start_id_tag_status IS NOT NULL AS start_failed
        FROM transactions WHERE started_at >= %(since)s""",
    "connectivity": """
        SELECT charge_point_id, at AS timestamp, event
        FROM connectivity_events WHERE at >= %(since)s""",
    "maintenance": """
        SELECT charge_point_id, failed_at, restored_at, failure_mode, notes
        FROM maintenance WHERE failed_at >= %(since)s""",
}


def export(database_url: str, since: pd.Timestamp) -> Telemetry:
    """Every table from `since` on (charge points: all in service)."""
    tables = {}
    with psycopg.connect(database_url) as conn:
        for name, sql in QUERIES.items():
            cur = conn.execute(sql, {"since": since.to_pydatetime()})
            columns = [d.name for d in cur.description or []]
            tables[name] = conform(name, pd.DataFrame(cur.fetchall(), columns=columns))
    return Telemetry(**tables)
