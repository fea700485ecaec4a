"""Failure prediction as a Ray job: features computed in parallel over charge points on the
cluster, from exported Parquet or straight from PostgreSQL, then a whole evaluation (and, if
asked, the model deployed to the scoring actors), or a diagnostic scoring of every charger.

    ray job submit --address http://HEAD:8265 --working-dir . -- \\
        python -m ml.ray_job evaluate --data /shared/telemetry --report report.json
    ray job submit --address http://HEAD:8265 -- \\
        python -m ml.ray_job score --database-url postgresql://... --out risks.csv

Each Ray task reads only its own charge points (Parquet filters, or the SQL queries of
ml/export.py), so the driver never holds the raw telemetry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import ray

from ml.features import build_features, labels
from ml.telemetry import TABLES, Telemetry, conform

CHUNK = 50  # charge points per task


def read_parquet_of(directory: Path, charge_point_ids: Sequence[str]) -> Telemetry:
    """The telemetry tables of `directory`, rows of these charge points only."""
    tables = {}
    for name in TABLES:
        frame = pq.read_table(
            directory / f"{name}.parquet",
            filters=[("charge_point_id", "in", list(charge_point_ids))],
        ).to_pandas()
        tables[name] = conform(name, frame)
    return Telemetry(**tables)


def read_database_of(database_url: str, days: int, charge_point_ids: Sequence[str]) -> Telemetry:
    import psycopg

    from ml.export import read_telemetry

    since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days)
    with psycopg.connect(database_url) as conn:
        return read_telemetry(conn, since, charge_point_ids=charge_point_ids)


@ray.remote
def features_of(source: dict, charge_point_ids: list[str], horizon_hours: float):
    """Features and labels of some charge points (one task of the job)."""
    if "data" in source:
        t = read_parquet_of(Path(source["data"]), charge_point_ids)
    else:
        t = read_database_of(source["database_url"], source["days"], charge_point_ids)
    x = build_features(t)
    return x, labels(t, x.index, pd.Timedelta(hours=horizon_hours))


@ray.remote
def risks_of(database_url: str, model, charge_point_ids: list[str]) -> list[dict]:
    """The risk of some charge points now, as the scoring actors compute it."""
    import psycopg

    from ml.live import FeatureState, score_charge_points

    with psycopg.connect(database_url, autocommit=True) as conn:
        scores = score_charge_points(
            conn, model, FeatureState(), charge_point_ids, pd.Timestamp.now(tz="UTC")
        )
    return [{**asdict(s), "at": s.at.isoformat()} for s in scores]


def charge_point_ids_of(source: dict) -> list[str]:
    if "data" in source:
        frame = pq.read_table(
            Path(source["data"]) / "charge_points.parquet", columns=["charge_point_id"]
        )
        return sorted(frame.column("charge_point_id").to_pylist())
    import psycopg

    with psycopg.connect(source["database_url"]) as conn:
        rows = conn.execute(
            "SELECT id FROM charge_points WHERE decommissioned_at IS NULL ORDER BY id"
        ).fetchall()
    return [r[0] for r in rows]


def chunks(ids: list[str], size: int = CHUNK) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def parallel_dataset(source: dict, horizon_hours: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and labels of every charge point, computed in parallel on the cluster, with
    the snapshots taken during outages left out (as `ml.model.dataset`)."""
    parts = ray.get(
        [
            features_of.remote(source, part, horizon_hours)
            for part in chunks(charge_point_ids_of(source))
        ]
    )
    x = pd.concat([p[0] for p in parts]).sort_index()
    target = pd.concat([p[1] for p in parts]).reindex(x.index)
    keep = ~target["in_outage"].to_numpy(dtype=bool)
    return x[keep], target[keep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.ray_job")
    parser.add_argument("command", choices=["evaluate", "score"])
    parser.add_argument("--data", help="directory of exported telemetry tables (Parquet)")
    parser.add_argument("--database-url", help="read from PostgreSQL instead")
    parser.add_argument("--days", type=int, default=180, help="history read from PostgreSQL")
    parser.add_argument("--horizon-hours", type=float, default=72.0)
    parser.add_argument("--report", help="write the evaluation here (JSON)")
    parser.add_argument("--deploy", action="store_true", help="deploy the trained model")
    parser.add_argument("--out", help="score: where to write the risks (.csv or .json)")
    parser.add_argument("--address", help="Ray cluster (default: RAY_ADDRESS, else local)")
    args = parser.parse_args(argv)
    if bool(args.data) == bool(args.database_url):
        parser.error("give one of --data or --database-url")
    source = (
        {"data": str(Path(args.data).resolve())}
        if args.data
        else {"database_url": args.database_url, "days": args.days}
    )
    ray.init(address=args.address, logging_level="WARNING")
    if args.command == "evaluate":
        from ml.model import train_on

        x, target = parallel_dataset(source, args.horizon_hours)
        model, report = train_on(x, target, pd.Timedelta(hours=args.horizon_hours))
        print(json.dumps(report["model"], indent=2))
        if args.report:
            Path(args.report).write_text(json.dumps(report, indent=2, default=str) + "\n")
        if args.deploy:
            if not args.database_url:
                parser.error("--deploy needs --database-url (where the scoring actors read)")
            from ml.deploy import deploy

            print(f"model {deploy(model, args.database_url)} deployed")
        return 0
    if not args.database_url:
        parser.error("score reads the live telemetry: give --database-url")
    import psycopg

    from ml.deploy import deployed_model

    with psycopg.connect(args.database_url) as conn:
        model = deployed_model(conn)
    if model is None:
        print("no failure model is deployed", file=sys.stderr)
        return 2
    parts = ray.get(
        [
            risks_of.remote(args.database_url, model, part)
            for part in chunks(charge_point_ids_of(source))
        ]
    )
    rows = sorted((r for part in parts for r in part), key=lambda r: -r["risk"])
    if args.out:
        out = Path(args.out)
        if out.suffix == ".csv":
            pd.DataFrame(rows).to_csv(out, index=False)
        else:
            out.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    print(f"{len(rows)} charge points scored, {sum(r['alert'] for r in rows)} at risk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
