"""`sigecve ml`: failure prediction: telemetry, models, scores (ml/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "failure prediction: telemetry, models, scores"


def add_arguments(ml: argparse.ArgumentParser) -> None:
    ml_sub = ml.add_subparsers(dest="ml_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models", help="model store directory (default: var/models)")
    common.add_argument("--horizon-hours", type=float, default=72.0, help="predict this far")
    common.add_argument("--seed", type=int, default=0)
    gen = ml_sub.add_parser("generate", parents=[common], help="a generated fleet's telemetry")
    gen.add_argument("--out", required=True, help="directory for the Parquet tables")
    gen.add_argument("--charge-points", type=int, default=200)
    gen.add_argument("--days", type=int, default=365)
    exp = ml_sub.add_parser("export", parents=[common], help="telemetry from the database")
    exp.add_argument("--out", required=True, help="directory for the Parquet tables")
    exp.add_argument("--days", type=int, default=180, help="how far back")
    exp.add_argument("--database-url", help="default: DATABASE_URL")
    for name, text in (
        ("train", "train, evaluate and store a model"),
        ("evaluate", "train and evaluate without storing"),
    ):
        p = ml_sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--data", required=True, help="directory of the telemetry tables")
        p.add_argument("--report", help="write the evaluation as JSON here")
    dep = ml_sub.add_parser(
        "deploy", parents=[common], help="put a stored model in service on the scoring actors"
    )
    dep.add_argument("--version", help="default: the store's current model")
    dep.add_argument("--database-url", help="default: DATABASE_URL, or var/database_url")
    sc = ml_sub.add_parser("score", parents=[common], help="risk per charge point now")
    sc.add_argument("--data", required=True, help="directory of the telemetry tables")
    sc.add_argument("--out", required=True, help="scores file (.parquet or .csv)")
    sc.add_argument("--version", help="model version (default: the current one)")


def run(args: argparse.Namespace) -> int:
    """Failure prediction: generate or export telemetry, train, evaluate, score."""
    import pandas as pd

    from ml.model import ModelStore, score, train
    from ml.telemetry import TelemetryError, load
    from sigecve.settings import Settings

    settings = Settings()
    store = ModelStore(Path(args.models) if args.models else settings.var_dir / "models")
    horizon = pd.Timedelta(hours=args.horizon_hours)
    try:
        if args.ml_command == "generate":
            from ml.generate import FleetSpec, generate

            spec = FleetSpec(charge_points=args.charge_points, days=args.days, seed=args.seed)
            generate(spec).save(Path(args.out))
            print(f"{args.charge_points} charge points x {args.days} days -> {args.out}")
        elif args.ml_command == "export":
            from ml.export import export

            url = _database_url(args, settings)
            if url is None:
                return 2
            since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=args.days)
            export(url, since).save(Path(args.out))
            print(f"telemetry of the last {args.days} days -> {args.out}")
        elif args.ml_command in ("train", "evaluate"):
            model, report = train(load(Path(args.data)), horizon, seed=args.seed)
            if args.ml_command == "train":
                print(f"model {model.version} -> {store.save(model)}")
            if args.report:
                Path(args.report).write_text(json.dumps(report, indent=2, default=str) + "\n")
            print(evaluation_table(report))
        elif args.ml_command == "deploy":
            from ml.deploy import deploy

            url = _database_url(args, settings)
            if url is None:
                return 2
            model = store.load(args.version)
            print(f"model {deploy(model, url)} deployed to the scoring actors")
        else:
            scores = score(store.load(args.version), load(Path(args.data)))
            out = Path(args.out)
            if out.suffix == ".csv":
                scores.to_csv(out, index=False)
            else:
                scores.to_parquet(out, index=False)
            alerts = int(scores["alert"].sum())
            print(f"{len(scores)} charge points scored, {alerts} above the alert threshold")
    except (TelemetryError, FileNotFoundError) as e:
        print(f"sigecve ml {args.ml_command}: {e}", file=sys.stderr)
        return 2
    return 0


def _database_url(args: argparse.Namespace, settings) -> str | None:
    """--database-url, else DATABASE_URL, else the one a local `sigecve up` wrote in var/."""
    url = args.database_url or settings.database_url
    written = settings.var_dir / "database_url"
    if url is None and written.is_file():
        url = written.read_text().strip()
    if url is None:
        print(
            f"sigecve ml {args.ml_command}: give --database-url (or DATABASE_URL), or run "
            "where `sigecve up` keeps its var/ directory",
            file=sys.stderr,
        )
    return url


def evaluation_table(report: dict) -> str:
    """The test period's metrics, the model beside the error-code-count rule (Markdown)."""
    model, rule = report["model"], report["baseline_error_code_count"]
    rows = [
        ("PR-AUC", "pr_auc"),
        ("prevalence", "prevalence"),
        ("ROC-AUC", "roc_auc"),
        ("alert threshold (chosen on validation)", "threshold"),
        ("precision at threshold", "precision_at_threshold"),
        ("recall at threshold", "recall_at_threshold"),
        ("event recall (failures alerted before)", "event_recall"),
        ("failures in the test period", "failures"),
        ("mean lead time, hours", "mean_lead_time_hours"),
        ("false alerts per charger-year", "false_alerts_per_charger_year"),
    ]
    lines = ["| test period | model | error-code count rule |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {model[key]} | {rule[key]} |" for label, key in rows]
    for mode in sorted(model["recall_by_mode"]):
        lines.append(
            f"| event recall, {mode} | {model['recall_by_mode'][mode]} | "
            f"{rule['recall_by_mode'].get(mode)} |"
        )
    return "\n".join(lines)
