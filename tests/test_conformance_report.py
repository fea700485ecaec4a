"""The committed OCPP conformance report is the one the code produces, and it leaves nothing out."""

from pathlib import Path

from sigecve.ocpp.conformance import report

REPORT = Path(__file__).resolve().parent.parent / "docs" / "ocpp-conformance.md"


def test_the_committed_report_matches_the_code():
    assert REPORT.read_text() == report(), (
        "docs/ocpp-conformance.md is stale: python -m sigecve.ocpp.conformance > "
        "docs/ocpp-conformance.md"
    )


def test_no_message_is_left_out():
    lines = report().splitlines()
    assert not any("MISSING" in line for line in lines)
    # Rows of the per-version tables (1.6, 2.0.1, 2.1), each naming its test.
    assert sum(line.startswith("| charger → CSMS |") for line in lines) == 14 + 25 + 36
    assert sum(line.startswith("| CSMS → charger |") for line in lines) == 26 + 40 + 55
    assert sum(line.startswith("| charger → CSMS (SEND) |") for line in lines) == 1
    # The summary has a row per message and a column per version.
    assert "| message | 1.6 | 2.0.1 | 2.1 |" in lines
    assert "| NotifyAllowedEnergyTransfer | — | — | CSMS → charger |" in lines
