"""The telemetry tables of failure prediction (shared/contracts/telemetry.md): their columns,
reading and writing them as Parquet, and checking them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

# table -> (required columns, optional columns, time columns)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "charge_points": (
        ("charge_point_id", "vendor", "model", "firmware_version", "commissioned_at"),
        ("site_id", "max_power_kw", "connector_count"),
        ("commissioned_at",),
    ),
    "meter_values": (
        ("charge_point_id", "connector_id", "timestamp", "measurand", "value"),
        ("phase", "unit", "transaction_id", "context"),
        ("timestamp",),
    ),
    "status_events": (
        ("charge_point_id", "connector_id", "timestamp", "status", "error_code"),
        ("vendor_error_code", "info"),
        ("timestamp",),
    ),
    "transactions": (
        ("charge_point_id", "connector_id", "transaction_id", "started_at", "stopped_at"),
        ("energy_wh", "stop_reason", "id_tag", "start_failed"),
        ("started_at", "stopped_at"),
    ),
    "connectivity": (
        ("charge_point_id", "timestamp", "event"),
        (),
        ("timestamp",),
    ),
    "maintenance": (
        ("charge_point_id", "failed_at", "restored_at"),
        ("failure_mode", "notes"),
        ("failed_at", "restored_at"),
    ),
}


class TelemetryError(ValueError):
    """A table or a column the contract requires is missing or unreadable."""


@dataclass
class Telemetry:
    charge_points: pd.DataFrame
    meter_values: pd.DataFrame
    status_events: pd.DataFrame
    transactions: pd.DataFrame
    connectivity: pd.DataFrame
    maintenance: pd.DataFrame

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for f in fields(self):
            getattr(self, f.name).to_parquet(directory / f"{f.name}.parquet", index=False)


def conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The table as the contract has it: required columns present (else TelemetryError naming
    them), optional ones added empty, extra ones dropped, times as UTC."""
    required, optional, times = TABLES[name]
    if frame.empty and len(frame.columns) == 0:  # no rows at all: an empty table
        frame = pd.DataFrame(columns=list(required + optional))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise TelemetryError(f"{name}: missing required column(s) {', '.join(missing)}")
    frame = frame.copy()
    for column in optional:
        if column not in frame.columns:
            frame[column] = None
    for column in times:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame[list(required + optional)]


def load(directory: Path) -> Telemetry:
    """The six tables of `directory/<table>.parquet`."""
    tables = {}
    for name in TABLES:
        path = directory / f"{name}.parquet"
        if not path.is_file():
            raise TelemetryError(f"{name}: no {path}")
        try:
            frame = pd.read_parquet(path)
        except Exception as e:
            raise TelemetryError(f"{name}: cannot read {path}: {e}") from e
        tables[name] = conform(name, frame)
    return Telemetry(**tables)
