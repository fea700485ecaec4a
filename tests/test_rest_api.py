"""The operator REST API against the running system: every endpoint's auth by role, bad input,
not found and conflict; lists with filters, sorting and cursors; commands answered by real
simulated chargers of both OCPP versions; reports, alerts, tokens, audit log, live stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import websockets

from sigecve.ocpp.timestamps import now_timestamp
from sigecve.simulator.charge_point import SimulationCounters, SimulationProfile, connect
from sigecve.simulator.fleet import SIMULATED_CLASSES
from tests.conftest import RunningSystem, eventually, unique_id

PASSWORD = "rest-password-1"
ROLES = ("viewer", "operator", "admin")

# Every operation of the API with the least role that may call it. Paths name things that do
# not exist: auth is decided before anything is looked up.
OPERATIONS: list[tuple[str, str, str]] = [
    ("GET", "/me", "viewer"),
    ("GET", "/cluster", "viewer"),
    ("POST", "/tokens", "admin"),
    ("GET", "/tokens", "admin"),
    ("DELETE", "/tokens/999999", "admin"),
    ("GET", "/audit-log", "admin"),
    ("POST", "/charge-points", "operator"),
    ("GET", "/charge-points", "viewer"),
    ("GET", "/charge-points/NO-CP", "viewer"),
    ("PATCH", "/charge-points/NO-CP", "operator"),
    ("DELETE", "/charge-points/NO-CP", "admin"),
    ("PUT", "/charge-points/NO-CP/password", "admin"),
    ("POST", "/charge-points/NO-CP/commands", "admin"),
    ("POST", "/charge-points/NO-CP/reset", "operator"),
    ("POST", "/charge-points/NO-CP/unlock", "operator"),
    ("POST", "/charge-points/NO-CP/remote-start", "operator"),
    ("POST", "/charge-points/NO-CP/remote-stop", "operator"),
    ("POST", "/charge-points/NO-CP/availability", "operator"),
    ("POST", "/charge-points/NO-CP/trigger", "operator"),
    ("POST", "/charge-points/NO-CP/clear-cache", "operator"),
    ("POST", "/charge-points/NO-CP/firmware", "admin"),
    ("GET", "/charge-points/NO-CP/configuration", "operator"),
    ("PUT", "/charge-points/NO-CP/configuration", "operator"),
    ("POST", "/charge-points/NO-CP/reservations", "operator"),
    ("POST", "/charge-points/NO-CP/display-messages", "operator"),
    ("GET", "/charge-points/NO-CP/display-messages", "viewer"),
    ("POST", "/charge-points/NO-CP/display-messages/refresh", "operator"),
    ("DELETE", "/charge-points/NO-CP/display-messages/999999", "operator"),
    ("POST", "/charge-points/NO-CP/local-list", "operator"),
    ("GET", "/charge-points/NO-CP/local-list", "viewer"),
    ("POST", "/charge-points/NO-CP/local-list/check", "operator"),
    ("GET", "/reservations", "viewer"),
    ("DELETE", "/reservations/999999", "operator"),
    ("POST", "/charge-points/NO-CP/charging-profiles", "operator"),
    ("DELETE", "/charge-points/NO-CP/charging-profiles", "operator"),
    ("GET", "/charging-profiles", "viewer"),
    ("GET", "/charge-points/NO-CP/log", "operator"),
    ("GET", "/charge-points/NO-CP/events", "viewer"),
    ("GET", "/charge-points/NO-CP/diagnosis", "viewer"),
    ("GET", "/charge-points/NO-CP/failure-risk", "viewer"),
    ("GET", "/charge-points/NO-CP/variables", "viewer"),
    ("POST", "/charge-points/NO-CP/variables/report", "operator"),
    ("GET", "/variables?where=A.B=1", "viewer"),
    ("GET", "/charge-points/NO-CP/monitors", "viewer"),
    ("POST", "/charge-points/NO-CP/monitors", "operator"),
    ("DELETE", "/charge-points/NO-CP/monitors/777777", "operator"),
    ("POST", "/charge-points/NO-CP/monitors/report", "operator"),
    ("GET", "/onboarding/policy", "viewer"),
    ("PUT", "/onboarding/policy", "admin"),
    ("GET", "/onboarding/queue", "viewer"),
    ("POST", "/charge-points/NO-CP/approve", "operator"),
    ("POST", "/charge-points/NO-CP/reject", "operator"),
    ("GET", "/charge-points/NO-CP/onboarding", "viewer"),
    ("GET", "/configuration-templates", "viewer"),
    ("POST", "/configuration-templates", "operator"),
    ("GET", "/configuration-templates/999999", "viewer"),
    ("PUT", "/configuration-templates/999999", "operator"),
    ("DELETE", "/configuration-templates/999999", "operator"),
    ("GET", "/connectors/available", "viewer"),
    ("POST", "/assistant", "viewer"),
    ("POST", "/id-tags", "operator"),
    ("GET", "/id-tags", "viewer"),
    ("GET", "/id-tags/NO-TAG", "viewer"),
    ("PATCH", "/id-tags/NO-TAG", "operator"),
    ("DELETE", "/id-tags/NO-TAG", "operator"),
    ("GET", "/transactions", "viewer"),
    ("GET", "/transactions/999999999", "viewer"),
    ("GET", "/transactions/999999999/meter-values", "viewer"),
    ("GET", "/transactions/999999999/signed-meter-values", "viewer"),
    ("PUT", "/transactions/999999999/demand", "operator"),
    ("POST", "/sites", "operator"),
    ("GET", "/sites", "viewer"),
    ("GET", "/sites/NO-SITE", "viewer"),
    ("PATCH", "/sites/NO-SITE", "operator"),
    ("DELETE", "/sites/NO-SITE", "admin"),
    ("PUT", "/sites/NO-SITE/limit", "operator"),
    ("PUT", "/sites/NO-SITE/prices", "operator"),
    ("PUT", "/sites/NO-SITE/limit-schedule", "operator"),
    ("GET", "/sites/NO-SITE/plan", "viewer"),
    ("GET", "/sites/NO-SITE/load", "viewer"),
    ("GET", "/reports/energy", "viewer"),
    ("GET", "/alerts", "viewer"),
    ("GET", "/failure-model", "viewer"),
    ("POST", "/alerts/999999/clear", "operator"),
    ("POST", "/charge-points/NO-CP/work-orders", "operator"),
    ("POST", "/work-orders/999999/restore", "operator"),
    ("GET", "/work-orders", "viewer"),
    ("GET", "/events/stream", "viewer"),
]


def template_of(path: str) -> str:
    """The OpenAPI path template an OPERATIONS path stands for."""
    replacements = {
        "/charge-points/NO-CP": "/charge-points/{charge_point_id}",
        "/id-tags/NO-TAG": "/id-tags/{id_tag}",
        "/sites/NO-SITE": "/sites/{site_id}",
        "/tokens/999999": "/tokens/{token_id}",
        "/reservations/999999": "/reservations/{reservation_id}",
        "/alerts/999999": "/alerts/{alert_id}",
        "/work-orders/999999": "/work-orders/{work_order_id}",
        "/configuration-templates/999999": "/configuration-templates/{template_id}",
        "/display-messages/999999": "/display-messages/{message_id}",
        "/monitors/777777": "/monitors/{monitor_id}",
        "/reports/energy": "/reports/{name}",
    }
    path = path.partition("?")[0]
    for concrete, template in replacements.items():
        path = path.replace(concrete, template)
    if path.endswith("/demand"):
        return "/transactions/{transaction_id}/demand"
    return path.replace("/999999999", "/{id}")


def as_role(system: RunningSystem, tokens: dict[str, str], role: str) -> httpx.AsyncClient:
    return system.api(token=tokens[role])


def assert_error(r: httpx.Response, status: int, code: str, *words: str) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    assert "Traceback" not in r.text
    return error


async def register(api: httpx.AsyncClient, cp_id: str, site_id: str | None = None) -> None:
    body = {"id": cp_id, "password": PASSWORD}
    if site_id:
        body["site_id"] = site_id
    r = await api.post("/charge-points", json=body)
    assert r.status_code == 201, r.text


@contextlib.asynccontextmanager
async def charger(system: RunningSystem, cp_id: str, protocol: str = "ocpp1.6", password=PASSWORD):
    """A booted simulated charger of any version, answering commands, through the ingress."""
    ws = await connect(system.ocpp_url, cp_id, password, protocol=protocol)
    cls = SIMULATED_CLASSES[protocol]
    cp = cls(cp_id, ws, SimulationProfile(), SimulationCounters(), random.Random(7))
    router = asyncio.create_task(cp.start())
    try:
        await cp.boot()
        yield cp
    finally:
        router.cancel()
        await ws.close()


async def all_pages(
    api: httpx.AsyncClient, path: str, params: dict, per_page: int = 3
) -> list[dict]:
    """Every item of a list, a few to a page, following the cursors."""
    items: list[dict] = []
    cursor = None
    while True:
        page_params = {**params, "limit": per_page, **({"cursor": cursor} if cursor else {})}
        r = await api.get(path, params=page_params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= per_page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# --- auth ----------------------------------------------------------------------------------


async def test_the_auth_table_covers_every_operation(system):
    async with system.api(token="") as api:
        spec = (await api.get("/openapi.json")).json()
    documented = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if path != "/health"
    }
    assert {(m, template_of(p)) for m, p, _ in OPERATIONS} == documented


@pytest.mark.parametrize(("method", "path", "least"), OPERATIONS)
async def test_every_operation_wants_a_token_and_enough_role(system, tokens, method, path, least):
    async with system.api(token="") as api:
        r = await api.request(method, path)
    assert_error(r, 401, "unauthorized", "bearer token")
    assert r.headers["www-authenticate"] == "Bearer"
    async with system.api(token="sgv_not_a_real_token") as api:
        r = await api.request(method, path)
    assert_error(r, 401, "unauthorized", "unknown or revoked")
    for role in ROLES[: ROLES.index(least)]:
        async with as_role(system, tokens, role) as api:
            r = await api.request(method, path)
        assert_error(r, 403, "forbidden", least)
    if method == "GET" and path != "/events/stream":
        async with as_role(system, tokens, least) as api:
            r = await api.request(method, path)
        assert r.status_code in (200, 404), r.text


async def test_tokens_are_created_listed_and_revoked(system, tokens):
    async with system.api() as admin:
        r = await admin.post("/tokens", json={"name": "short-lived", "role": "viewer"})
        assert r.status_code == 201
        created = r.json()
        assert created["token"].startswith("sgv_") and created["role"] == "viewer"
        async with system.api(token=created["token"]) as viewer:
            me = (await viewer.get("/me")).json()
            assert me == {"token_id": created["id"], "name": "short-lived", "role": "viewer"}
            listed = await all_pages(admin, "/tokens", {"sort": "-id"})
            assert [t["id"] for t in listed] == sorted((t["id"] for t in listed), reverse=True)
            assert created["id"] in [t["id"] for t in listed]
            assert all("token" not in t and "token_hash" not in t for t in listed)
            assert (await admin.delete(f"/tokens/{created['id']}")).status_code == 204
            assert_error(await viewer.get("/me"), 401, "unauthorized", "revoked")
        assert_error(await admin.delete(f"/tokens/{created['id']}"), 404, "not_found")
        listed = (await admin.get("/tokens", params={"include_revoked": True})).json()["items"]
        (revoked,) = [t for t in listed if t["id"] == created["id"]]
        assert revoked["revoked_at"] is not None
        my_id = (await admin.get("/me")).json()["token_id"]
        assert_error(await admin.delete(f"/tokens/{my_id}"), 409, "conflict", "calling with")
        r = await admin.post("/tokens", json={"name": "x", "role": "superuser"})
        assert_error(r, 422, "invalid_input", "role")
        assert_error(await admin.delete("/tokens/0"), 422, "invalid_input", "token_id")


# --- errors --------------------------------------------------------------------------------


async def test_errors_are_json_with_a_code_and_never_a_trace(system):
    async with system.api() as api:
        assert_error(await api.get("/no-such-thing"), 404, "not_found")
        assert_error(await api.put("/charge-points"), 405, "method_not_allowed")
        r = await api.post(
            "/charge-points", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_error(r, 422, "invalid_input", "JSON")
        r = await api.post(
            "/charge-points", content=b"\xff\xfe", headers={"content-type": "application/json"}
        )
        assert_error(r, 422, "invalid_input", "body")
        r = await api.post("/charge-points", json={"id": "bad id with spaces"})
        assert_error(r, 422, "invalid_input", "id")
        r = await api.get("/charge-points", params={"limit": 0})
        assert_error(r, 422, "invalid_input", "limit")
        r = await api.get("/charge-points", params={"cursor": "garbage!"})
        assert_error(r, 422, "invalid_input", "cursor")
        r = await api.get("/charge-points", params={"sort": "vendor"})
        assert_error(r, 422, "invalid_input", "sort")
        r = await api.post("/id-tags", json={"id_tag": "NUL\u0000TAG"})
        assert_error(r, 422, "invalid_input")


async def test_the_openapi_document_has_examples_for_request_bodies(system):
    async with system.api(token="") as api:
        spec = (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for name in ("ChargePointRegistration", "IdTag", "Site", "Command", "NewApiToken"):
        fields = schemas[name]["properties"].values()
        assert any("examples" in f for f in fields), name


# --- charge points -------------------------------------------------------------------------


async def test_charge_points_register_update_rotate_password_and_decommission(system, tokens):
    site_a, site_b = unique_id("SITE"), unique_id("SITE")
    cp_id = unique_id("CP")
    async with as_role(system, tokens, "operator") as op, system.api() as admin:
        for site in (site_a, site_b):
            r = await op.post("/sites", json={"id": site, "max_power_kw": 50})
            assert r.status_code == 201, r.text
        await register(op, cp_id, site_a)
        r = await op.post("/charge-points", json={"id": cp_id, "password": PASSWORD})
        assert_error(r, 409, "conflict", cp_id)
        r = await op.post("/charge-points", json={"id": unique_id("CP"), "password": "short"})
        assert_error(r, 422, "invalid_input", "password")
        unplaced = unique_id("CP")
        r = await op.post("/charge-points", json={"id": unplaced, "site_id": "NO-SUCH-SITE"})
        assert_error(r, 404, "not_found", "NO-SUCH-SITE")
        assert_error(await op.get(f"/charge-points/{unplaced}"), 404, "not_found")

        r = await op.patch(f"/charge-points/{cp_id}", json={"site_id": site_b, "phases": 1})
        assert r.status_code == 200, r.text
        assert (r.json()["site_id"], r.json()["phases"]) == (site_b, 1)
        r = await op.patch(f"/charge-points/{cp_id}", json={"phases": 2})
        assert_error(r, 422, "invalid_input", "phases")
        r = await op.patch(f"/charge-points/{cp_id}", json={"max_power_kw": None})
        assert_error(r, 422, "invalid_input", "max_power_kw")
        r = await op.patch(f"/charge-points/{cp_id}", json={"site_id": "NO-SUCH-SITE"})
        assert_error(r, 404, "not_found", "NO-SUCH-SITE")
        assert_error(await op.patch("/charge-points/NO-CP", json={}), 404, "not_found")

        # A new password, stored: the old one no longer opens the door.
        new_password = "rotated-password-2"
        r = await admin.put(f"/charge-points/{cp_id}/password", json={"password": new_password})
        assert r.status_code == 200 and r.json()["outcome"] == "stored", r.text
        with pytest.raises(websockets.InvalidStatus):
            await connect(system.ocpp_url, cp_id, PASSWORD)
        async with charger(system, cp_id, password=new_password) as cp:
            # Pushed to the connected charger first (1.6 AuthorizationKey), then stored.
            r = await admin.put(
                f"/charge-points/{cp_id}/password",
                json={"password": "pushed-password-3", "push_to_charger": True},
            )
            assert r.json()["outcome"] == "stored and set on the charger", r.text
            assert cp.configuration["AuthorizationKey"] == "pushed-password-3"
            # A charger with an open session cannot be decommissioned.
            await op.post("/id-tags", json={"id_tag": f"T-{cp_id}"[:20]})
            tx = await cp.start_session(1, f"T-{cp_id}"[:20])
            r = await admin.delete(f"/charge-points/{cp_id}")
            assert_error(r, 409, "conflict", "open transaction")
            await cp.stop(1, tx, "Local", f"T-{cp_id}"[:20])
        r = await admin.put("/charge-points/NO-CP/password", json={"password": new_password})
        assert_error(r, 404, "not_found")

        assert (await admin.delete(f"/charge-points/{cp_id}")).status_code == 204
        assert_error(await admin.delete(f"/charge-points/{cp_id}"), 409, "conflict")
        with pytest.raises(websockets.InvalidStatus):
            await connect(system.ocpp_url, cp_id, "pushed-password-3")
        listed = (await op.get("/charge-points", params={"site_id": site_b})).json()["items"]
        assert listed == []
        listed = (
            await op.get(
                "/charge-points", params={"site_id": site_b, "include_decommissioned": True}
            )
        ).json()["items"]
        assert [c["id"] for c in listed] == [cp_id] and listed[0]["decommissioned_at"]
        # Registering the id again brings it back into service.
        await register(op, cp_id, site_b)
        r = await op.get(f"/charge-points/{cp_id}")
        assert r.json()["decommissioned_at"] is None


async def test_charge_point_lists_filter_sort_and_page(system, tokens):
    site = unique_id("SITE")
    ids = sorted(f"{site}-CP{i}" for i in range(7))
    async with as_role(system, tokens, "operator") as op:
        r = await op.post("/sites", json={"id": site, "max_power_kw": 50, "smart_charging": False})
        assert r.status_code == 201, r.text
        for cp_id in ids:
            await register(op, cp_id, site)
        async with charger(system, ids[3]):
            for sort in ("id", "-id", "last_seen_at", "-last_seen_at", "registered_at"):
                pages = await all_pages(op, "/charge-points", {"site_id": site, "sort": sort})
                assert sorted(c["id"] for c in pages) == ids, sort
            r = await op.get("/charge-points", params={"site_id": site, "sort": "-id"})
            assert [c["id"] for c in r.json()["items"]] == ids[::-1]
            r = await op.get("/charge-points", params={"site_id": site, "connected": True})
            (connected,) = r.json()["items"]
            assert connected["id"] == ids[3] and connected["ocpp_protocol"] == "ocpp1.6"
            assert {c["connector_id"]: c["status"] for c in connected["connectors"]}[1] == (
                "Available"
            )
            r = await op.get("/charge-points", params={"site_id": site, "status": "Available"})
            assert [c["id"] for c in r.json()["items"]] == [ids[3]]
            r = await op.get("/charge-points", params={"q": ids[5][-8:]})
            assert [c["id"] for c in r.json()["items"]] == [ids[5]]
            r = await op.get(
                "/charge-points", params={"site_id": site, "sort": "-last_seen_at", "limit": 1}
            )
            assert [c["id"] for c in r.json()["items"]] == [ids[3]]


# --- id tags -------------------------------------------------------------------------------


async def test_id_tags_are_managed_and_blocking_one_stops_remote_starts(system, tokens):
    parent, tag = unique_id("FLEET")[:20], unique_id("TAG")[:20]
    cp_id = unique_id("CP")
    async with as_role(system, tokens, "operator") as op:
        assert (await op.post("/id-tags", json={"id_tag": parent})).status_code == 201
        r = await op.post(
            "/id-tags", json={"id_tag": tag, "parent_id_tag": parent, "owner": "Ana Sousa"}
        )
        assert r.status_code == 201, r.text
        assert_error(await op.post("/id-tags", json={"id_tag": tag}), 409, "conflict", tag)
        r = await op.post("/id-tags", json={"id_tag": "x" * 37})
        assert_error(r, 422, "invalid_input", "id_tag")
        assert (await op.get(f"/id-tags/{tag}")).json()["owner"] == "Ana Sousa"
        r = await op.get("/id-tags", params={"parent_id_tag": parent})
        assert [t["id_tag"] for t in r.json()["items"]] == [tag]
        r = await op.get("/id-tags", params={"q": "ana sou"})
        assert tag in [t["id_tag"] for t in r.json()["items"]]

        await register(op, cp_id)
        async with charger(system, cp_id):
            r = await op.post(f"/charge-points/{cp_id}/remote-start", json={"id_tag": tag})
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            r = await op.patch(f"/id-tags/{tag}", json={"status": "Blocked"})
            assert r.status_code == 200 and r.json()["status"] == "Blocked"
            r = await op.post(f"/charge-points/{cp_id}/remote-start", json={"id_tag": tag})
            assert_error(r, 409, "conflict", "Blocked")
        r = await op.get("/id-tags", params={"status": "Blocked", "q": tag})
        assert [t["id_tag"] for t in r.json()["items"]] == [tag]
        r = await op.patch(f"/id-tags/{tag}", json={"parent_id_tag": tag})
        assert_error(r, 422, "invalid_input", "own parent")
        r = await op.patch(f"/id-tags/{tag}", json={"status": None})
        assert_error(r, 422, "invalid_input", "status")
        expiry = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        r = await op.patch(f"/id-tags/{tag}", json={"expiry_date": expiry, "owner": None})
        assert r.json()["owner"] is None and r.json()["expiry_date"]
        assert (await op.delete(f"/id-tags/{tag}")).status_code == 204
        assert_error(await op.get(f"/id-tags/{tag}"), 404, "not_found", tag)
        assert_error(await op.delete(f"/id-tags/{tag}"), 404, "not_found")
        assert_error(await op.patch(f"/id-tags/{tag}", json={}), 404, "not_found")


# --- sites ---------------------------------------------------------------------------------


async def test_sites_are_created_changed_listed_and_deleted_only_when_empty(system, tokens):
    site, empty = unique_id("SITE"), unique_id("SITE")
    async with as_role(system, tokens, "operator") as op, system.api() as admin:
        r = await op.post(
            "/sites", json={"id": site, "name": "Porto 3", "max_power_kw": 80, "price_per_kwh": 0.3}
        )
        assert r.status_code == 201, r.text
        assert_error(await op.post("/sites", json={"id": site, "max_power_kw": 1}), 409, "conflict")
        r = await op.post("/sites", json={"id": empty, "max_power_kw": -5})
        assert_error(r, 422, "invalid_input", "max_power_kw")
        for wrong in ({"max_power_kw": True}, {"max_power_kw": "5"}, {"smart_charging": "yes"}):
            r = await op.post("/sites", json={"id": empty, "max_power_kw": 5, **wrong})
            assert_error(r, 422, "invalid_input", next(iter(wrong)))
        assert (await op.post("/sites", json={"id": empty, "max_power_kw": 5})).status_code == 201
        r = await op.patch(f"/sites/{site}", json={"price_per_kwh": 0.35, "name": "Porto III"})
        assert (r.json()["price_per_kwh"], r.json()["name"]) == (0.35, "Porto III")
        assert_error(await op.patch(f"/sites/{site}", json={"name": None}), 422, "invalid_input")
        assert_error(await op.patch("/sites/NO-SITE", json={"name": "x"}), 404, "not_found")
        ids = [s["id"] for s in (await op.get("/sites", params={"limit": 1000})).json()["items"]]
        assert site in ids and empty in ids and ids == sorted(ids)
        assert (await op.get(f"/sites/{site}")).json()["max_power_kw"] == 80
        assert (await op.get(f"/sites/{site}/plan")).status_code == 200
        assert_error(await op.get("/sites/NO-SITE/plan"), 404, "not_found")

        await register(op, unique_id("CP"), site)
        assert_error(await admin.delete(f"/sites/{site}"), 409, "conflict", "charge points")
        assert (await admin.delete(f"/sites/{empty}")).status_code == 204
        assert_error(await op.get(f"/sites/{empty}"), 404, "not_found")
        assert_error(await admin.delete(f"/sites/{empty}"), 404, "not_found")


# --- commands, configuration, reservations, charging profiles ------------------------------


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_named_commands_reach_the_charger_in_its_own_version(system, tokens, protocol):
    cp_id, tag = unique_id("CMD"), unique_id("TAG")[:20]
    async with as_role(system, tokens, "operator") as op, system.api() as admin:
        await register(op, cp_id)
        r = await op.post(f"/charge-points/{cp_id}/reset", json={"kind": "hard"})
        assert_error(r, 409, "not_connected", cp_id)
        await op.post("/id-tags", json={"id_tag": tag})
        async with charger(system, cp_id, protocol):
            expected = {
                "reset": ({"kind": "soft"}, "Reset", "Accepted"),
                "unlock": ({"connector_id": 1}, "UnlockConnector", "Unlocked"),
                "remote-start": ({"id_tag": tag, "connector_id": 1}, None, "Accepted"),
                "availability": ({"connector_id": 1, "operative": False}, None, "Accepted"),
                "trigger": ({"message": "Heartbeat"}, "TriggerMessage", "Accepted"),
                "clear-cache": (None, "ClearCache", "Accepted"),
            }
            for path, (body, action, status) in expected.items():
                r = await op.post(f"/charge-points/{cp_id}/{path}", json=body)
                assert r.status_code == 200, (path, r.text)
                result = r.json()
                assert result["status"] == status, (path, result)
                if action:
                    assert result["action"] == action
            start = "RemoteStartTransaction" if protocol == "ocpp1.6" else "RequestStartTransaction"

            async def sent_commands() -> dict[str, dict] | None:
                # The message log is written in batches, a moment after the frames go out.
                log = (await op.get(f"/charge-points/{cp_id}/log", params={"limit": 100})).json()
                assert log["untrusted"] is True
                sent = {
                    f["action"]: json.loads(f["frame"])[3]
                    for f in log["frames"]
                    if f["direction"] == "out" and f["action"]
                }
                return sent if {"Reset", start} <= sent.keys() else None

            by_action = await eventually(sent_commands, within=10, message="commands not logged")
            reset_kind = "Soft" if protocol == "ocpp1.6" else "OnIdle"
            assert by_action["Reset"] == {"type": reset_kind}
            assert tag in json.dumps(by_action[start])

            r = await op.post(f"/charge-points/{cp_id}/unlock", json={"connector_id": 9})
            assert_error(r, 404, "not_found", "no connector 9")
            r = await op.post(f"/charge-points/{cp_id}/remote-start", json={"id_tag": "NOPE"})
            assert_error(r, 409, "conflict", "Invalid")
            r = await op.post(f"/charge-points/{cp_id}/remote-stop", json={"id": 2**62})
            assert_error(r, 404, "not_found")
            r = await op.post(f"/charge-points/{cp_id}/reset", json={"kind": "sideways"})
            assert_error(r, 422, "invalid_input", "kind")
            r = await admin.post(
                f"/charge-points/{cp_id}/firmware",
                json={"location": "https://fw.example/v2.bin", "retries": 2},
            )
            assert r.status_code == 200, r.text
            assert r.json()["action"] == "UpdateFirmware"


async def test_remote_stop_ends_an_open_session(system, tokens):
    cp_id, tag = unique_id("STOP"), unique_id("TAG")[:20]
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        await op.post("/id-tags", json={"id_tag": tag})
        async with charger(system, cp_id) as cp:
            ocpp_tx = await cp.start_session(1, tag)
            (tx,) = (await op.get("/transactions", params={"charge_point_id": cp_id})).json()[
                "items"
            ]
            assert tx["transaction_id"] == ocpp_tx and tx["stopped_at"] is None
            r = await op.post(f"/charge-points/{cp_id}/remote-stop", json={"id": tx["id"]})
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            await cp.stop(1, ocpp_tx, "Remote", tag)
            r = await op.post(f"/charge-points/{cp_id}/remote-stop", json={"id": tx["id"]})
            assert_error(r, 409, "conflict", "ended")


@pytest.mark.parametrize(
    ("protocol", "key", "value"),
    [
        ("ocpp1.6", "HeartbeatInterval", "120"),
        ("ocpp2.0.1", "OCPPCommCtrlr.HeartbeatInterval", "120"),
    ],
)
async def test_configuration_is_read_and_changed(system, tokens, protocol, key, value):
    cp_id = unique_id("CFG")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, protocol):
            r = await op.put(
                f"/charge-points/{cp_id}/configuration", json={"key": key, "value": value}
            )
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            r = await op.get(
                f"/charge-points/{cp_id}/configuration", params={"keys": [key, "Nope.Nope"]}
            )
            assert r.status_code == 200, r.text
            items = {i["key"]: i for i in r.json()["items"]}
            assert items[key]["value"] == value
            assert items["Nope.Nope"]["status"] in ("UnknownKey", "UnknownComponent")
            if protocol == "ocpp1.6":
                everything = (await op.get(f"/charge-points/{cp_id}/configuration")).json()
                assert {"HeartbeatInterval", "MeterValueSampleInterval"} <= {
                    i["key"] for i in everything["items"]
                }
            else:
                r = await op.get(f"/charge-points/{cp_id}/configuration")
                assert_error(r, 422, "invalid_input", "Component.Variable")
                r = await op.put(
                    f"/charge-points/{cp_id}/configuration", json={"key": "NoDot", "value": "1"}
                )
                assert_error(r, 422, "invalid_input", "Component.Variable")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_reservations_are_made_listed_and_cancelled(system, tokens, protocol):
    cp_id, tag = unique_id("RES"), unique_id("TAG")[:20]
    expires = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        await op.post("/id-tags", json={"id_tag": tag})
        async with charger(system, cp_id, protocol):
            r = await op.post(
                f"/charge-points/{cp_id}/reservations",
                json={"id_tag": tag, "connector_id": 1, "expires_at": expires},
            )
            assert r.status_code == 201, r.text
            reservation = r.json()
            assert reservation["status"] == "Accepted"
            past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
            r = await op.post(
                f"/charge-points/{cp_id}/reservations",
                json={"id_tag": tag, "connector_id": 1, "expires_at": past},
            )
            assert_error(r, 422, "invalid_input", "expires_at")
            naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
            r = await op.post(
                f"/charge-points/{cp_id}/reservations",
                json={"id_tag": tag, "connector_id": 1, "expires_at": naive},
            )
            assert_error(r, 422, "invalid_input", "expires_at", "timezone")
            listed = (await op.get("/reservations", params={"charge_point_id": cp_id})).json()
            assert [x["id"] for x in listed["items"]] == [reservation["id"]]
            # Held: another driver cannot be started there remotely.
            someone = unique_id("TAG")[:20]
            await op.post("/id-tags", json={"id_tag": someone})
            r = await op.post(
                f"/charge-points/{cp_id}/remote-start",
                json={"id_tag": someone, "connector_id": 1},
            )
            assert_error(r, 409, "conflict", "reserved for another id tag")
            r = await op.delete(f"/reservations/{reservation['id']}")
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            r = await op.delete(f"/reservations/{reservation['id']}")
            assert_error(r, 409, "conflict", "Cancelled")
            listed = (
                await op.get(
                    "/reservations", params={"charge_point_id": cp_id, "status": "Accepted"}
                )
            ).json()
            assert listed["items"] == []
        assert_error(await op.delete("/reservations/2147483647"), 404, "not_found")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
async def test_charging_profiles_are_set_kept_and_cleared(system, tokens, protocol):
    cp_id = unique_id("PRF")
    schedule = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
    }
    if protocol == "ocpp1.6":
        profile = {
            "chargingProfileId": 11,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": schedule,
        }
    else:
        profile = {
            "id": 11,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, **schedule}],
        }
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, protocol) as cp:
            r = await op.post(
                f"/charge-points/{cp_id}/charging-profiles",
                json={"connector_id": 1, "profile": profile},
            )
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            assert cp.limits_w[1] == 7400
            r = await op.post(
                f"/charge-points/{cp_id}/charging-profiles",
                json={"connector_id": 1, "profile": {"stackLevel": "high"}},
            )
            assert_error(r, 422, "invalid_input")
            r = await op.get("/charging-profiles", params={"charge_point_id": cp_id})
            (kept,) = r.json()["items"]
            assert (kept["profile_id"], kept["connector_id"], kept["cleared_at"]) == (11, 1, None)
            r = await op.delete(f"/charge-points/{cp_id}/charging-profiles")
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            assert cp.limits_w == {}
            r = await op.get(
                "/charging-profiles", params={"charge_point_id": cp_id, "active": True}
            )
            assert r.json()["items"] == []


async def test_the_raw_command_endpoint_checks_schema_and_connection(system, tokens):
    cp_id = unique_id("RAW")
    async with system.api() as admin:
        await register(admin, cp_id)
        body = {"action": "Reset", "payload": {"type": "Soft"}}
        r = await admin.post(f"/charge-points/{cp_id}/commands", json=body)
        assert_error(r, 409, "not_connected")
        assert_error(await admin.post("/charge-points/NO-CP/commands", json=body), 404, "not_found")
        async with charger(system, cp_id):
            r = await admin.post(f"/charge-points/{cp_id}/commands", json=body)
            assert r.json() == {
                "action": "Reset",
                "status": "Accepted",
                "response": {"status": "Accepted"},
            }
            r = await admin.post(
                f"/charge-points/{cp_id}/commands",
                json={"action": "Reset", "payload": {"type": "Sideways"}},
            )
            assert_error(r, 422, "invalid_input")


# --- transactions, reports, events ---------------------------------------------------------


async def test_transactions_filter_and_carry_their_meter_values_and_reports_count_them(
    system, tokens
):
    site = unique_id("SITE")
    cp_id, tag = unique_id("TX"), unique_id("TAG")[:20]
    async with as_role(system, tokens, "operator") as op:
        r = await op.post("/sites", json={"id": site, "max_power_kw": 50, "price_per_kwh": 0.4})
        assert r.status_code == 201
        await op.patch(f"/sites/{site}", json={"smart_charging": False})
        await register(op, cp_id, site)
        await op.post("/id-tags", json={"id_tag": tag})
        async with charger(system, cp_id) as cp:
            for _ in range(2):
                tx = await cp.start_session(1, tag)
                cp.energy_wh[1] += 1500
                await cp.meter_values(1, tx, 7400)
                cp.energy_wh[1] += 1000
                await cp.stop(1, tx, "Local", tag)
            open_tx = await cp.start_session(2, tag)

            async with as_role(system, tokens, "viewer") as viewer:
                page = (await viewer.get("/transactions", params={"site_id": site})).json()
                assert len(page["items"]) == 3
                assert [t["energy_wh"] for t in page["items"]][1:] == [2500, 2500]
                r = await viewer.get("/transactions", params={"site_id": site, "active": True})
                (active,) = r.json()["items"]
                assert active["transaction_id"] == open_tx
                r = await viewer.get(
                    "/transactions", params={"id_tag": tag, "sort": "started_at", "limit": 2}
                )
                first = r.json()
                assert len(first["items"]) == 2 and first["next_cursor"]
                r = await viewer.get(
                    "/transactions",
                    params={"id_tag": tag, "sort": "started_at", "cursor": first["next_cursor"]},
                )
                assert [t["transaction_id"] for t in r.json()["items"]] == [open_tx]
                future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
                r = await viewer.get(
                    "/transactions", params={"site_id": site, "started_from": future}
                )
                assert r.json()["items"] == []
                by_start = await all_pages(
                    viewer, "/transactions", {"site_id": site, "sort": "-started_at"}, per_page=1
                )
                assert [t["id"] for t in by_start] == [t["id"] for t in page["items"]]
                stopped = page["items"][1]
                assert (await viewer.get(f"/transactions/{stopped['id']}")).json() == stopped
                values = (await viewer.get(f"/transactions/{stopped['id']}/meter-values")).json()
                energies = [
                    v["value"]
                    for v in values["items"]
                    if v["measurand"] == "Energy.Active.Import.Register"
                ]
                assert len(energies) == 1
                assert_error(await viewer.get("/transactions/999999999999"), 404, "not_found")
                assert_error(await viewer.get("/transactions/0"), 422, "invalid_input", "id")

                energy = (await viewer.get("/reports/energy", params={"site_id": site})).json()
                (today,) = energy["rows"]
                assert today["sessions"] == 3 and today["price_per_kwh"] == 0.4
                assert today["energy_kwh"] == 5.0
                assert today["revenue"] == 2.0
                revenue = (await viewer.get("/reports/revenue", params={"site_id": site})).json()
                assert revenue["rows"][0]["revenue"] == 2.0
                csv = await viewer.get("/reports/energy", params={"site_id": site, "format": "csv"})
                assert csv.headers["content-type"].startswith("text/csv")
                lines = csv.text.splitlines()
                assert lines[0] == "site_id,day,sessions,energy_kwh,price_per_kwh,revenue"
                assert lines[1].startswith(f"{site},") and ",3,5.0,0.4,2.0" in lines[1]
                (uptime,) = (await viewer.get("/reports/uptime", params={"site_id": site})).json()[
                    "rows"
                ]
                assert uptime["charge_point_id"] == cp_id
                assert uptime["uptime"] == 1.0  # observed, and never Faulted or Unavailable
                (starts,) = (
                    await viewer.get("/reports/failed-starts", params={"site_id": site})
                ).json()["rows"]
                assert (starts["starts"], starts["failed_starts"]) == (3, 0)
                r = await viewer.get("/reports/energy", params={"start": future})
                assert_error(r, 422, "invalid_input", "start")
                for name in ("energy", "revenue", "uptime"):  # dates without a time zone
                    r = await viewer.get(
                        f"/reports/{name}", params={"start": "2026-12-01", "end": "2026-12-07"}
                    )
                    assert_error(r, 422, "invalid_input", "time zone")
                r = await viewer.get("/reports/nonsense")
                assert_error(r, 422, "invalid_input", "name")
            await cp.stop(2, open_tx, "Local", tag)


async def test_the_live_stream_carries_committed_changes(system, tokens):
    cp_id, tag = unique_id("LIVE"), unique_id("TAG")[:20]
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        await op.post("/id-tags", json={"id_tag": tag})
    seen: list[tuple[str, dict]] = []
    ready = asyncio.Event()

    async def listen() -> None:
        params = {"charge_point_id": cp_id, "access_token": tokens["viewer"]}
        async with (
            httpx.AsyncClient(base_url=f"{system.http}/api/v1", timeout=60) as client,
            client.stream("GET", "/events/stream", params=params) as r,
        ):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event:
                    if event == "ready":
                        ready.set()
                    else:
                        seen.append((event, json.loads(line.removeprefix("data: "))))

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(ready.wait(), 30)
        async with charger(system, cp_id) as cp:
            tx = await cp.start_session(1, tag)
            await cp.meter_values(1, tx, 7000)
            await cp.stop(1, tx, "Local", tag)

            def kinds():
                return [kind for kind, _ in seen]

            async def everything_seen():
                wanted = {"connection", "connector_status", "transaction_started", "power"}
                return wanted | {"transaction_stopped"} <= set(kinds())

            await eventually(everything_seen, within=30, message=f"seen only {kinds()}")
        assert all(data["charge_point_id"] == cp_id for _, data in seen)
        started = next(d for k, d in seen if k == "transaction_started")
        assert started["transaction_id"] == str(tx) and started["id_tag"] == tag
        power = next(d for k, d in seen if k == "power")
        assert power["value"] == 7000
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def test_alerts_are_listed_riskiest_first_and_cleared(system, tokens, database_url):
    cp_id = unique_id("ALERT")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        # Alerts are raised by failure prediction; here they are put in as it would.
        with psycopg.connect(database_url, autocommit=True) as conn:
            ids = [
                conn.execute(
                    """INSERT INTO alerts (charge_point_id, risk, horizon_hours, failure_mode,
                                           signals, model_version)
                       VALUES (%s, %s, 72, 'connector', %s, 'test-1') RETURNING id""",
                    (
                        cp_id,
                        risk,
                        json.dumps([{"name": "temp_per_amp2", "value": 1.5, "contribution": 0.4}]),
                    ),
                ).fetchone()[0]
                for risk in (0.3, 0.9)
            ]
        r = await op.get("/alerts", params={"charge_point_id": cp_id})
        listed = r.json()["items"]
        assert [a["id"] for a in listed] == ids[::-1]
        assert listed[0]["signals"][0]["name"] == "temp_per_amp2"
        for sort, order in (("-risk", ids[::-1]), ("risk", ids), ("-id", ids[::-1])):
            params = {"charge_point_id": cp_id, "sort": sort}
            assert [a["id"] for a in await all_pages(op, "/alerts", params, per_page=1)] == order
        r = await op.post(f"/alerts/{ids[1]}/clear")
        assert r.status_code == 200 and r.json()["cleared_at"], r.text
        assert_error(await op.post(f"/alerts/{ids[1]}/clear"), 409, "conflict")
        r = await op.get("/alerts", params={"charge_point_id": cp_id})
        assert [a["id"] for a in r.json()["items"]] == [ids[0]]
        r = await op.get("/alerts", params={"charge_point_id": cp_id, "active": False})
        assert [a["id"] for a in r.json()["items"]] == [ids[1]]
        assert_error(await op.post("/alerts/999999999/clear"), 404, "not_found")

        # The charger fails and is repaired: the work order closes, its open alert clears.
        r = await op.post(f"/charge-points/{cp_id}/work-orders", json={"failure_mode": "connector"})
        assert r.status_code == 201, r.text
        order = r.json()
        assert (order["failure_mode"], order["restored_at"]) == ("connector", None)
        r = await op.get("/work-orders", params={"charge_point_id": cp_id, "open": True})
        assert [w["id"] for w in r.json()["items"]] == [order["id"]]
        too_early = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        r = await op.post(f"/work-orders/{order['id']}/restore", json={"restored_at": too_early})
        assert_error(r, 422, "invalid_input", "before the failure")
        r = await op.post(f"/work-orders/{order['id']}/restore", json={"notes": "new contacts"})
        assert r.status_code == 200, r.text
        assert r.json()["alerts_cleared"] == 1 and r.json()["work_order"]["restored_at"]
        assert (await op.get("/alerts", params={"charge_point_id": cp_id})).json()["items"] == []
        assert_error(await op.post(f"/work-orders/{order['id']}/restore", json={}), 409, "conflict")
        r = await op.post(f"/charge-points/{cp_id}/work-orders", json={"failure_mode": "rust"})
        assert_error(r, 422, "invalid_input", "failure_mode")
        r = await op.post("/charge-points/NO-CP/work-orders", json={"failure_mode": "meter"})
        assert_error(r, 404, "not_found")


async def test_every_write_is_audited_with_who_and_no_secret(system, tokens):
    cp_id = unique_id("AUD")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        r = await op.post("/charge-points", json={"id": cp_id, "password": PASSWORD})
        assert r.status_code == 409
    async with as_role(system, tokens, "viewer") as viewer:
        r = await viewer.post("/sites", json={"id": "x", "max_power_kw": 1})
        assert r.status_code == 403
    async with system.api() as admin:
        entries = (await admin.get("/audit-log", params={"limit": 50})).json()["items"]
        mine = [e for e in entries if e["details"] and e["details"].get("id") == cp_id]
        assert [e["status"] for e in mine] == [409, 201]  # newest first
        assert all(e["role"] == "operator" and e["token_name"] == "test operator" for e in mine)
        assert all(e["details"]["password"] == "***" for e in mine)
        assert (mine[0]["method"], mine[0]["target"], mine[0]["interface"]) == (
            "POST",
            "/api/v1/charge-points",
            "rest",
        )
        refused = next(e for e in entries if e["target"] == "/api/v1/sites" and e["status"] == 403)
        assert refused["role"] == "viewer"
        since = min(e["at"] for e in mine)
        oldest_first = await all_pages(admin, "/audit-log", {"since": since, "sort": "id"})
        assert [e["id"] for e in oldest_first][:2] == [e["id"] for e in mine[::-1]]
        r = await admin.get("/audit-log", params={"interface": "mcp", "since": now_timestamp()})
        assert r.json()["items"] == []


async def test_the_cluster_view_shows_the_node_its_actors_and_chargers(system):
    cp_id = unique_id("CLU")
    async with system.api() as api:
        await register(api, cp_id)
    ws = await connect(system.ocpp_url, cp_id, PASSWORD)
    try:

        async def seen():
            async with system.api() as api:
                r = await api.get("/cluster")
            assert r.status_code == 200, r.text
            view = r.json()
            return view if view["charge_points_connected"] >= 1 else None

        view = await eventually(seen)
        live = [n for n in view["nodes"] if n["alive"]]
        assert len(live) == 1 and live[0]["head"]
        node = live[0]
        assert node["actors"]["ChargePointHost"] >= 1
        assert any(k.endswith(":OcppGateway") for k in node["actors"])
        assert node["charge_points_hosted"] == view["charge_points_connected"]
        assert node["charge_points_entered"] == view["charge_points_connected"]
        assert view["hosts_unanswered"] == 0
    finally:
        await ws.close()
