"""The operator dashboard in a real browser: Debian's Chromium driven by Playwright against the
session's `sigecve up`, with simulated chargers on real connections. The tests take the
screenshots of docs/dashboard/ when SIGECVE_SCREENSHOTS_DIR names that folder; otherwise they
go to a temporary folder, so a test run leaves the checkout as it was."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from playwright.async_api import Browser, Page, async_playwright, expect
from psycopg.types.json import Jsonb

from tests.conftest import RunningSystem, eventually, unique_id
from tests.fake_llm import text, tool_use
from tests.test_rest_api import charger, register
from tests.test_system import add_tag

# Debian's package, installed by `make test`; Playwright names the path if it is missing.
CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root, headless, and quiet on a machine without internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("SIGECVE_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "sigecve-dashboard-screenshots"
)
TIMEOUT_MS = 20_000


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@contextlib.asynccontextmanager
async def logged_in(system: RunningSystem, token: str) -> AsyncIterator[Page]:
    """A page logged in with `token`; fails the test on any script error or any request
    that left our own origin."""
    async with browser() as b:
        page = await b.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
        page.on(
            "request",
            lambda r: None if r.url.startswith((system.http, "data:")) else errors.append(r.url),
        )
        await page.goto(f"{system.http}/")
        await page.get_by_test_id("token").fill(token)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_test_id("fleet")).to_be_visible()
        await expect(page.locator("#live")).to_have_text("live")
        yield page
        assert errors == []


async def screenshot(page: Page, name: str) -> None:
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


async def a_site(system: RunningSystem, name: str) -> str:
    site_id = unique_id("site")
    async with system.api() as api:
        r = await api.post(
            "/sites", json={"id": site_id, "name": name, "max_power_kw": 30, "price_per_kwh": 0.3}
        )
        assert r.status_code == 201, r.text
    return site_id


async def test_the_dashboard_is_served_offline_and_refuses_a_wrong_token(system):
    async with httpx.AsyncClient(base_url=system.http) as http:
        r = await http.get("/")
        assert r.status_code == 200 and "<title>SIGEC-VE</title>" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        # Every asset the page names is ours, none comes from elsewhere.
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert assets and all(not a.startswith(("http:", "https:", "//")) for a in assets)
        for asset in assets:
            if not asset.startswith(("data:", "#")):
                assert (await http.get(f"/{asset}")).status_code == 200, asset
    async with browser() as b:
        page = await b.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{system.http}/")
        await page.get_by_test_id("token").fill("sgv_not-a-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_test_id("login")).to_contain_text("Unknown or revoked token")
        await expect(page.get_by_test_id("fleet")).to_have_count(0)


async def test_an_operator_sees_the_fleet_opens_a_charger_commands_it_and_watches_its_power(
    system, tokens
):
    site_id = await a_site(system, "Dashboard car park")
    busy, idle, tag = unique_id("DASH"), unique_id("DASH"), unique_id("T")[:20]
    async with system.api() as api:
        for cp_id in (busy, idle):
            await register(api, cp_id, site_id)
    await add_tag(system, tag)

    async with charger(system, busy) as cp, charger(system, idle) as other:
        transaction_id = await cp.start_session(1, tag)
        await cp.meter_values(1, transaction_id, 7_400)
        await other.status(2, ChargePointStatus.faulted, ChargePointErrorCode.ground_failure)

        async with logged_in(system, tokens["operator"]) as page:
            # The fleet: every charger with its connection and connectors, problems first.
            await page.get_by_test_id("site-filter").select_option(site_id)
            rows = page.locator("[data-testid=fleet] tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_have_attribute("data-testid", f"cp-row-{idle}")
            busy_row = page.get_by_test_id(f"cp-row-{busy}")
            await expect(busy_row.get_by_test_id("connection")).to_have_text("online")
            await expect(busy_row.get_by_test_id("connectors")).to_contain_text("1: Charging")
            await expect(page.get_by_test_id(f"cp-row-{idle}")).to_contain_text("2: Faulted")
            await screenshot(page, "fleet")

            # A connector changing state shows without a reload.
            await cp.status(2, ChargePointStatus.unavailable)
            await expect(busy_row.get_by_test_id("connectors")).to_contain_text("2: Unavailable")

            # One charge point: boot info, connectors, the session.
            await page.get_by_role("link", name=busy).click()
            await expect(page.get_by_test_id("boot-info")).to_contain_text("Simulator-1.6")
            await expect(page.get_by_test_id("transaction-id")).to_have_text(str(transaction_id))
            await expect(page.get_by_test_id("power-now")).to_have_text("7.4 kW")

            # A command, confirmed, and the charger's reply.
            await page.get_by_test_id("trigger-message").select_option("Heartbeat")
            await page.get_by_test_id("cmd-trigger").click()
            await expect(page.locator("#confirm")).to_be_visible()
            await page.locator("#confirm-ok").click()
            await expect(page.get_by_test_id("command-reply")).to_contain_text(
                "TriggerMessage: Accepted"
            )
            # A cancelled command is not sent.
            await page.get_by_test_id("cmd-hard-reset").click()
            await page.get_by_role("button", name="Cancel").click()
            await expect(page.get_by_test_id("command-reply")).to_contain_text("TriggerMessage")

            # The session's power, live.
            line = page.get_by_test_id("power-line")
            before = int(await line.get_attribute("data-points"))
            await cp.meter_values(1, transaction_id, 11_000)
            await expect(page.get_by_test_id("power-now")).to_have_text("11.0 kW")
            await expect(line).to_have_attribute("data-points", str(before + 1))
            await page.get_by_test_id("read-configuration").click()
            await expect(page.get_by_test_id("configuration")).to_contain_text("HeartbeatInterval")
            # The stored device model: asked for, shown with what the charger said of each key.
            await page.get_by_test_id("request-report").click()
            await expect(page.get_by_test_id("device-model-report")).to_contain_text("complete")
            model = page.get_by_test_id("device-model")
            await expect(model).to_contain_text("NumberOfConnectors")
            await expect(model).to_contain_text("ReadOnly")
            await expect(page.get_by_test_id("message-log")).to_contain_text("MeterValues")
            await screenshot(page, "charge-point")

            # The site: its load over the day against its grid limit, the plan, prices.
            await page.get_by_role("link", name=site_id).click()
            await expect(page.get_by_test_id("plan")).to_contain_text(busy)
            # its driver said nothing: the departure planned with is a guess, and says so
            await expect(page.get_by_test_id("plan")).to_contain_text("guessed from")
            chart = page.get_by_test_id("site-load")
            await expect(chart.locator("path.series")).to_have_count(1)
            await expect(chart.locator("path.limit")).to_have_count(1)
            await screenshot(page, "site")

            # Sessions and reports, with a CSV export.
            await page.get_by_role("link", name="Sessions & reports").click()
            await expect(page.get_by_test_id("transactions")).to_contain_text(busy)
            await expect(page.get_by_test_id("report-table")).to_contain_text("energy_kwh")
            async with page.expect_download() as download:
                await page.get_by_test_id("csv").click()
            saved = await (await download.value).path()
            with open(saved) as f:  # noqa: ASYNC230 - a small local file
                assert f.readline().startswith("site_id,day")
            await screenshot(page, "sessions")

            # The session ends on the charger: the charge point page says so live.
            await page.goto(f"{system.http}/#/cp/{busy}")
            await expect(page.get_by_test_id("power-now")).to_be_visible()
            await cp.stop(1, transaction_id, "Local")
            await expect(page.get_by_test_id("session")).to_contain_text("No session in progress")


async def test_alerts_show_their_signals_and_the_assistant_asks_before_acting(
    system, tokens, llm, database_url
):
    cp_id = unique_id("DASHALERT")
    async with system.api() as api:
        await register(api, cp_id)
    async with charger(system, cp_id):
        # An alert as the scorer writes it, with its top signals.
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                """INSERT INTO alerts (charge_point_id, risk, horizon_hours, failure_mode,
                                       signals, model_version)
                   VALUES (%s, 0.83, 72, 'connector', %s, 'test-model')""",
                (cp_id, Jsonb([{"name": "heating_drift_7d", "value": 1.9, "contribution": 2.1}])),
            )
            # And a problem the station's monitor reported, as the NotifyEvent handler writes it.
            reported = {
                "component": "PowerConverter", "evse_id": 1, "variable": "Temperature",
                "event_id": 1, "at": "2026-12-07T10:00:00Z", "trigger": "Alerting",
                "actual_value": "81", "severity": 3,
            }  # fmt: skip
            conn.execute(
                """INSERT INTO alerts (charge_point_id, source, event_key, event)
                   VALUES (%s, 'monitoring', 'PowerConverter@1.0.Temperature', %s)""",
                (cp_id, Jsonb(reported)),
            )
        async with logged_in(system, tokens["operator"]) as page:
            await page.get_by_role("link", name="Alerts").click()
            rows = page.locator("[data-testid=alerts] tr", has_text=cp_id)
            predicted = rows.filter(has_text="predicted")
            await expect(predicted).to_contain_text("83%")
            await expect(predicted).to_contain_text("heating_drift_7d")
            # Reported problems come first, with what the monitor saw.
            await expect(rows.first).to_contain_text("reported")
            await expect(rows.first).to_contain_text("PowerConverter.Temperature (EVSE 1)")
            await expect(rows.first).to_contain_text("3 Critical")
            await expect(rows.first).to_contain_text("Alerting: 81")
            await expect(page.locator("#alert-count")).not_to_be_hidden()
            await screenshot(page, "alerts")

            # The assistant streams its answer and asks before a destructive action.
            llm.script(
                [
                    text("I will reset it."),
                    tool_use("send_remote_reset", {"charge_point_id": cp_id}),
                ],
                [text("Reset accepted.")],
            )
            await page.get_by_role("button", name="Assistant").click()
            await page.locator("#assistant-question").fill(f"Reset {cp_id}")
            await page.get_by_role("button", name="Ask").click()
            await expect(page.get_by_test_id("assistant-answer").first).to_have_text(
                "I will reset it."
            )
            await expect(page.get_by_test_id("assistant-confirm")).to_contain_text(
                "send_remote_reset"
            )
            await screenshot(page, "assistant")
            await page.get_by_test_id("assistant-approve").click()
            await expect(page.get_by_test_id("assistant-answer").last).to_have_text(
                "Reset accepted."
            )
            assert len(llm.requests) == 2


async def test_an_operator_approves_a_waiting_station_from_the_fleet_page(system, tokens):
    from tests.test_onboarding import policy, stranger

    cp_id = unique_id("DNEW")
    async with policy(system, "pending"), stranger(system, cp_id, "ocpp2.0.1") as station:
        async with system.api() as api:

            async def queued() -> bool:
                items = (await api.get("/onboarding/queue")).json()["items"]
                return any(i["id"] == cp_id and i["booted_at"] for i in items)

            await eventually(queued, within=20, message="the station is not queued")
        async with logged_in(system, tokens["operator"]) as page:
            row = page.get_by_test_id(f"pending-{cp_id}")
            await expect(row).to_contain_text("Pending")
            await expect(row).to_contain_text("Simulator-2.0.1")
            await page.get_by_test_id(f"approve-{cp_id}").click()
            await page.locator("#confirm-ok").click()
            await expect(row).to_contain_text("approved")
            await screenshot(page, "approval-queue")
        await asyncio.wait_for(station.booting, 40)
        assert station.booted
