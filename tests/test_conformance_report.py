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
    text = report()
    assert "MISSING" not in text
    assert text.count("| charger → CSMS |") == 14 + 25
    assert text.count("| CSMS → charger |") == 26 + 40
