"""After a run: did the CSMS keep everything it acknowledged, once?

The simulator's report holds, per charger, what the CSMS acknowledged to it (its ledger:
transactions started and stopped, meter values per transaction, the transactions it
carried across a reconnection) and whether it ended booted. This compares that with what
PostgreSQL holds:

- every acknowledged transaction is stored, for that charger, and no other one is (a
  charger's start sent again after its answer was lost is the same transaction; at most
  the starts still unanswered at the end may be stored without being acknowledged);
- every acknowledged stop is stored;
- per transaction, the Energy.Active.Import.Register readings stored are at least the
  MeterValues acknowledged and at most those plus the ones still unanswered;
- every charger ended booted, and (when asked while the chargers still ran) the CSMS
  had it connected.

Only transactions that began after the run did (the report's `started_at`) are this run's:
the lab's database keeps those of earlier runs, whose chargers may have had the same ids.

Simulated 1.6 chargers keep a ledger; 2.0.1 ones are checked for being booted only.

    python -m sigecve.lab.check REPORT DATABASE_URL [--stop PID --expect N]

`--stop PID`: the simulator still runs as PID; the CSMS's connected view is read first
(once N are connected, or after a minute), then the simulator is asked to end (SIGTERM)
and its report awaited. Exit 1 on any loss or
duplicate, 2 on bad input.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPORT_WAIT_S = 90.0  # for the simulator's report after SIGTERM (it closes every connection)


@dataclass
class StoredTransaction:
    charge_point_id: str
    connector_id: int
    stopped: bool
    energy_readings: int  # Energy.Active.Import.Register samples stored for it


@dataclass
class Verdict:
    chargers: int = 0
    ledgers_not_kept: int = 0  # 2.0.1 chargers: their booting is checked, not their ledger
    booted_at_end: int = 0
    connected_in_csms: int | None = None
    transactions_acknowledged: int = 0
    transactions_stored: int = 0
    carried_across_reconnects: int = 0
    stops_acknowledged: int = 0
    meter_values_acknowledged: int = 0
    meter_values_stored: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {**self.__dict__, "clean": self.clean}


def compare(
    chargers: dict[str, dict],
    stored: dict[int, StoredTransaction],
    stored_ids_by_charger: dict[str, set[int]],
    connected: set[str] | None,
) -> Verdict:
    """The verdict on one run (pure): `chargers` from the simulator's report, the rest from
    the database for those chargers."""
    v = Verdict(chargers=len(chargers))
    v.connected_in_csms = None if connected is None else len(connected & set(chargers))
    for cp_id, charger in sorted(chargers.items()):
        if charger["booted"]:
            v.booted_at_end += 1
        else:
            v.problems.append(f"{cp_id}: not booted at the end")
        if connected is not None and cp_id not in connected:
            v.problems.append(f"{cp_id}: the CSMS does not have it connected")
        if charger.get("protocol", "ocpp1.6") != "ocpp1.6":
            v.ledgers_not_kept += 1
            continue
        pending = charger.get("unacknowledged", 0)
        started = {int(t): c for t, c in charger["started"].items()}
        mine = stored_ids_by_charger.get(cp_id, set())
        v.transactions_acknowledged += len(started)
        v.transactions_stored += len(mine)
        v.carried_across_reconnects += len(charger.get("carried", []))
        for tx, connector in started.items():
            row = stored.get(tx)
            if row is None or row.charge_point_id != cp_id:
                v.problems.append(f"{cp_id}: acknowledged transaction {tx} is not stored")
            elif row.connector_id != connector:
                v.problems.append(f"{cp_id}: transaction {tx} is on connector {row.connector_id}")
        extra = sorted(mine - set(started))
        if len(extra) > pending:
            v.problems.append(
                f"{cp_id}: {len(extra)} stored transactions it was never acknowledged "
                f"({', '.join(map(str, extra[:5]))}) with {pending} messages unanswered: "
                "a transaction counted twice"
            )
        for tx in charger["stopped"]:
            v.stops_acknowledged += 1
            row = stored.get(int(tx))
            if row is None or not row.stopped:
                v.problems.append(f"{cp_id}: acknowledged stop of transaction {tx} is not stored")
        for tx, acknowledged in charger["meter_values"].items():
            row = stored.get(int(tx))
            have = row.energy_readings if row is not None else 0
            v.meter_values_acknowledged += acknowledged
            v.meter_values_stored += have
            if have < acknowledged:
                v.problems.append(
                    f"{cp_id}: transaction {tx}: {acknowledged} meter values acknowledged, "
                    f"{have} stored"
                )
            elif have > acknowledged + pending:
                v.problems.append(
                    f"{cp_id}: transaction {tx}: {have} meter values stored for "
                    f"{acknowledged} acknowledged: duplicates"
                )
    return v


def read_connected(database_url: str) -> set[str]:
    """The charge points the CSMS has connected."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM charge_points WHERE connected")}


def read_stored(
    database_url: str, charger_ids: list[str], since: datetime | None = None
) -> tuple[dict[int, StoredTransaction], dict[str, set[int]]]:
    """The transactions of these chargers that began at `since` or later (all without it)."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=10) as conn:
        rows = conn.execute(
            """SELECT t.transaction_id, t.charge_point_id, t.connector_id,
                      t.stopped_at IS NOT NULL,
                      (SELECT count(*) FROM meter_values m
                        WHERE m.transaction_id = t.transaction_id
                          AND m.measurand = 'Energy.Active.Import.Register'
                          AND m.context IS DISTINCT FROM 'Transaction.Begin'
                          AND m.context IS DISTINCT FROM 'Transaction.End')
               FROM transactions t WHERE t.charge_point_id = ANY(%s)
                AND (%s::timestamptz IS NULL OR t.started_at >= %s)""",
            (charger_ids, since, since),
        ).fetchall()
    stored = {r[0]: StoredTransaction(r[1], r[2], r[3], r[4]) for r in rows}
    by_charger: dict[str, set[int]] = {}
    for tx, row in stored.items():
        by_charger.setdefault(row.charge_point_id, set()).add(tx)
    return stored, by_charger


def _wait_for_report(pid: int, report: Path) -> None:
    """Ask the simulator to end, and wait for it to have written its report."""
    before = report.stat().st_mtime if report.exists() else None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + REPORT_WAIT_S
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    if not report.exists() or report.stat().st_mtime == before:
        raise SystemExit(f"lab check: the simulator wrote no report to {report}")


def print_verdict(v: Verdict, out=sys.stdout) -> None:
    connected = "not read" if v.connected_in_csms is None else str(v.connected_in_csms)
    print(
        f"chargers {v.chargers}: booted at the end {v.booted_at_end}, connected in the CSMS "
        f"{connected}"
        + (f", {v.ledgers_not_kept} without a ledger (2.0.1)" if v.ledgers_not_kept else "")
        + "\n"
        f"transactions: acknowledged {v.transactions_acknowledged}, stored "
        f"{v.transactions_stored}, carried across a reconnection {v.carried_across_reconnects}"
        f", stops acknowledged {v.stops_acknowledged}\n"
        f"meter values: acknowledged {v.meter_values_acknowledged}, stored "
        f"{v.meter_values_stored}",
        file=out,
    )
    for problem in v.problems[:50]:
        print(f"  {problem}", file=out)
    if len(v.problems) > 50:
        print(f"  ... and {len(v.problems) - 50} more", file=out)
    print(
        "clean: nothing acknowledged lost, nothing stored twice"
        if v.clean
        else f"NOT CLEAN: {len(v.problems)} problems",
        file=out,
    )


def settled_connected(database_url: str, expect: int, timeout_s: float) -> set[str]:
    """The CSMS's connected charge points once `expect` of them are (its connected flags are
    written behind the handshake), or as they are after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        connected = read_connected(database_url)
        if len(connected) >= expect or time.monotonic() >= deadline:
            return connected
        time.sleep(1.0)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sigecve.lab.check", description=__doc__)
    parser.add_argument("report")
    parser.add_argument("database_url")
    parser.add_argument("--stop", type=int, help="the simulator's pid, still running")
    parser.add_argument("--expect", type=int, default=0, help="chargers it runs")
    parser.add_argument("--settle", type=float, default=60.0)
    args = parser.parse_args(argv)
    report_path = Path(args.report)
    connected = None
    if args.stop is not None:
        connected = settled_connected(args.database_url, args.expect, args.settle)
        _wait_for_report(args.stop, report_path)
    try:
        report = json.loads(report_path.read_text())
        chargers = report["chargers"]
        since = datetime.fromisoformat(report["started_at"]) if report.get("started_at") else None
    except (OSError, ValueError, KeyError) as e:
        print(f"lab check: {report_path} is no simulator report with ledgers: {e}", file=sys.stderr)
        return 2
    stored, by_charger = read_stored(args.database_url, sorted(chargers), since)
    verdict = compare(chargers, stored, by_charger, connected)
    print_verdict(verdict)
    report_path.with_suffix(".check.json").write_text(
        json.dumps(verdict.as_json(), indent=2) + "\n"
    )
    return 0 if verdict.clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
