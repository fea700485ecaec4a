"""The operator API's decisions without Ray or a server: cursors, roles, audit redaction,
report periods and report shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from serve_deployments.context import ApiContext
from serve_deployments.rest_api import build_rest_app
from sigecve.db.keyset import keyset
from sigecve.db.repositories.base import Filters
from sigecve.domain import SITE_MAX_POWER_KW
from sigecve.services.api_tokens import Role, role_allows
from sigecve.services.audit import redact
from sigecve.services.errors import InvalidInput
from sigecve.services.pagination import decode_cursor, encode_cursor, page_of
from sigecve.services.reports import (
    EnergyRow,
    Report,
    ReportName,
    report_csv,
    report_period,
    revenue_rows,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sort_value", "last_id", "sort_type", "id_type"),
    [
        ("CP-7", "CP-7", str, str),
        (42, 42, int, int),
        (0.75, 3, float, int),
        (NOW, 9, datetime, int),
    ],
)
def test_a_cursor_gives_back_what_it_was_made_of(sort_value, last_id, sort_type, id_type):
    cursor = encode_cursor(sort_value, last_id)
    assert decode_cursor(cursor, sort_type, id_type) == (sort_value, last_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "e30",  # {} : JSON, but not a pair
        encode_cursor("text", 1),  # a str where the list sorts by an int
        encode_cursor(1, True),  # a bool is no id
        encode_cursor(1, 2**63),  # beyond bigint
    ],
)
def test_a_cursor_this_api_did_not_hand_out_is_invalid_input(cursor):
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor(cursor, int, int)


def test_a_page_has_a_cursor_only_when_more_rows_follow():
    rows = [(i, f"id-{i}") for i in range(5)]
    items, cursor = page_of(rows, 5, key=lambda r: r)
    assert (items, cursor) == (rows, None)
    items, cursor = page_of(rows, 3, key=lambda r: r)
    assert items == rows[:3]
    assert decode_cursor(cursor, int, str) == (2, "id-2")


def test_keyset_order_and_filter_follow_the_direction():
    columns = {"id": ("t.id", int), "started_at": ("t.started_at", datetime)}
    ascending = keyset("started_at", columns, ("t.id", int))
    params: dict = {}
    assert ascending.order_by() == "t.started_at ASC, t.id ASC"
    assert ascending.where((NOW, 5), params) == (
        "(t.started_at, t.id) > (%(_after_sort)s, %(_after_id)s)"
    )
    assert params == {"_after_sort": NOW, "_after_id": 5}
    descending = keyset("-id", columns, ("t.id", int))
    assert descending.order_by() == "t.id DESC, t.id DESC"
    assert "<" in descending.where((1, 1), {})
    assert descending.where(None, {}) == "TRUE"


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [
        ("viewer", Role.viewer, True),
        ("viewer", Role.operator, False),
        ("operator", Role.operator, True),
        ("operator", Role.admin, False),
        ("admin", Role.viewer, True),
        ("admin", Role.admin, True),
    ],
)
def test_roles_are_ranked(granted, needed, allowed):
    assert role_allows(granted, needed) is allowed


def test_audit_details_keep_no_secret_and_no_huge_string():
    kept = redact(
        {
            "id": "CP-1",
            "password": "hunter22",
            "nested": {"Token": "sgv_x", "ok": [1, {"api_key": "k"}]},
            "note": "x" * 5000,
            "nul": "a\x00b",
        }
    )
    assert kept["id"] == "CP-1"
    assert kept["password"] == "***"
    assert kept["nested"] == {"Token": "***", "ok": [1, {"api_key": "***"}]}
    assert len(kept["note"]) == 4003 and kept["note"].endswith("...")
    assert kept["nul"] == "a\\u0000b"


def test_a_report_period_defaults_to_the_last_30_days_and_ends_now_at_the_latest():
    assert report_period(None, None, NOW) == (NOW - timedelta(days=30), NOW)
    start, end = report_period(NOW - timedelta(days=2), NOW + timedelta(days=5), NOW)
    assert (start, end) == (NOW - timedelta(days=2), NOW)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (NOW, NOW - timedelta(hours=1), "start"),
        (NOW - timedelta(days=400), NOW, "end"),
        (datetime(2026, 11, 1), None, "start: give a time zone"),
        (None, datetime(2026, 12, 7), "end: give a time zone"),
        (NOW - timedelta(days=2), datetime(2026, 12, 7), "end: give a time zone"),
    ],
)
def test_a_bad_report_period_is_named(start, end, field):
    with pytest.raises(InvalidInput, match=field):
        report_period(start, end, NOW)


def _day(site: str | None, day: int, sessions: int, kwh: float, price: float | None):
    revenue = round(kwh * price, 2) if price is not None else None
    return EnergyRow(
        site_id=site,
        day=date(2026, 11, day),
        sessions=sessions,
        energy_kwh=kwh,
        price_per_kwh=price,
        revenue=revenue,
    )


def test_revenue_sums_the_days_of_each_site():
    rows = revenue_rows(
        [_day("A", 1, 2, 10.5, 0.3), _day("A", 2, 1, 4.2, 0.3), _day(None, 1, 3, 7, None)]
    )
    assert [(r.site_id, r.sessions, r.energy_kwh, r.revenue) for r in rows] == [
        ("A", 3, 14.7, 4.41),
        (None, 3, 7, None),
    ]


def test_a_report_as_csv_has_a_header_and_a_line_per_row():
    report = Report(
        report=ReportName.energy,
        start=NOW - timedelta(days=1),
        end=NOW,
        rows=[_day("A", 24, 2, 10.5, 0.3)],
    )
    assert report_csv(report).splitlines() == [
        "site_id,day,sessions,energy_kwh,price_per_kwh,revenue",
        "A,2026-11-24,2,10.5,0.3,3.15",
    ]


def test_the_openapi_document_states_the_bounds_the_api_enforces():
    """What the services used to refuse by hand (null in an update, 2 phases, any site cap)
    is in the document, so a client generated from it cannot send it."""
    doc = build_rest_app(ApiContext(None, None, None)).openapi()  # type: ignore[arg-type]
    schemas = doc["components"]["schemas"]
    not_null = {
        "ChargePointUpdate": ["max_power_kw", "phases", "charging_rate_unit"],
        "SiteUpdate": ["name", "max_power_kw", "price_per_kwh", "smart_charging"],
        "IdTagUpdate": ["status"],
    }
    for model, fields in not_null.items():
        properties = schemas[model]["properties"]
        for name in fields:
            assert "anyOf" not in properties[name] and "default" not in properties[name], (
                model,
                name,
            )
    assert schemas["ChargePointUpdate"]["properties"]["phases"]["enum"] == [1, 3]
    for model in ("Site", "SiteUpdate", "SiteLimit"):
        assert schemas[model]["properties"]["max_power_kw"]["maximum"] == SITE_MAX_POWER_KW
    assert "366 days" in str(doc["paths"]["/reports/{name}"]["get"])


def test_a_lists_filters_are_in_its_sql_only_when_given():
    where = (
        Filters()
        .where("status = {}", "Accepted")
        .where("owner = {}", None)
        .where("(stopped_at IS NULL) = {}", False)  # False is a value: the filter is kept
        .always("decommissioned_at IS NULL")
    )
    assert where.clauses == [
        "status = %(_f0)s",
        "(stopped_at IS NULL) = %(_f1)s",
        "decommissioned_at IS NULL",
    ]
    assert where.params == {"_f0": "Accepted", "_f1": False}
