"""Smart charging end to end: a site limit below what its chargers could draw becomes TxProfiles
whose sum respects the limit, and the chargers' meter values follow."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from rich.console import Console

from sigecve.simulator.charge_point import SimulationProfile
from sigecve.simulator.fleet import charge_point_ids, run_fleet
from tests.conftest import eventually, unique_id

LONG_SESSIONS = SimulationProfile(
    connectors=1,
    meter_interval_s=0.3,
    session_s=(600.0, 600.0),
    idle_s=(0.1, 0.2),
    power_kw=(22.0, 22.0),
    id_tags=("GRID-TAG",),
)


async def test_two_chargers_on_a_limited_site_share_the_limit(system, database_url):
    site_id, prefix = unique_id("SITE"), unique_id("GRID") + "-"
    ids = charge_point_ids(prefix, 2)  # one 1.6, one 2.0.1
    async with system.api() as api:
        r = await api.post("/sites", json={"id": site_id, "max_power_kw": 100})
        assert r.status_code == 201, r.text
        for cp_id in ids:
            r = await api.post(
                "/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}", "site_id": site_id}
            )
            assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": "GRID-TAG"})
        fleet = asyncio.create_task(
            run_fleet(
                system.ocpp_url,
                2,
                password_template="pw-{id}",
                id_prefix=prefix,
                profile=LONG_SESSIONS,
                seed=3,
                share_201=0.5,
                console=Console(quiet=True),
            )
        )
        try:

            async def both_charging():
                active = []
                for cp_id in ids:
                    cp = (await api.get(f"/charge-points/{cp_id}")).json()
                    active += cp["active_transactions"]
                return active if len(active) == 2 else None

            active = await eventually(both_charging, within=60, message="chargers did not start")

            async def replanned_on_arrival():
                # The site re-plans when a session starts, not only on its 60 s timer.
                plan = (await api.get(f"/sites/{site_id}/plan")).json()
                return plan if len(plan["sessions"]) == 2 else None

            await eventually(replanned_on_arrival, within=15, message="no re-plan on arrival")
            r = await api.put(f"/sites/{site_id}/limit", json={"max_power_kw": 10})
            assert r.status_code == 200, r.text
            plan = r.json()
            assert plan["site_limit_kw"] == 10 and plan["solver"] == "optimal"
            assert sorted(p["charge_point_id"] for p in plan["sessions"]) == ids
            assert all(p["status"] == "Accepted" for p in plan["sessions"]), plan
            # Checked with GetCompositeSchedule: the chargers run what was planned.
            assert all(p["verified"] for p in plan["sessions"]), plan
            assert plan["defaults"]["source"] in ("default", "site history")
            assert sum(p["power_kw"] for p in plan["sessions"]) <= 10 + 1e-6
            assert sum(p["power_kw"] for p in plan["sessions"]) >= 10 - 1e-3  # none wasted
            # Two EVs alike get alike shares, not one everything and the other nothing.
            assert all(
                "the site's 10 kW are all in use by 2 sessions" in p["reason"]
                for p in plan["sessions"]
            ), plan
            # alike EVs, alike power: within 1/64 of their 22 kW cap (the planner's chunks)
            assert [p["power_kw"] for p in plan["sessions"]] == pytest.approx([5, 5], abs=0.35)
            planned_w = {p["charge_point_id"]: p["limit"] for p in plan["sessions"]}

            def latest_power_w() -> dict[str, float]:
                with psycopg.connect(database_url) as conn:
                    rows = conn.execute(
                        """SELECT DISTINCT ON (charge_point_id) charge_point_id, value
                           FROM meter_values WHERE charge_point_id = ANY(%s)
                             AND measurand = 'Power.Active.Import'
                           ORDER BY charge_point_id, id DESC""",
                        (ids,),
                    ).fetchall()
                return dict(rows)

            async def meters_follow():
                power = latest_power_w()
                return (
                    power
                    if len(power) == 2 and all(power[cp] <= planned_w[cp] + 1 for cp in ids)
                    else None
                )

            power = await eventually(
                meters_follow, within=30, message="meter values did not follow the profiles"
            )
            assert sum(power.values()) <= 10_000 + 2

            async with system.api() as again:
                stored = (await again.get(f"/sites/{site_id}/plan")).json()
            # Kept: this plan, or a newer one (a meter value straying from it re-plans).
            assert stored["planned_at"] >= plan["planned_at"]
            # The charger confirms the profile it runs (GetCompositeSchedule).
            cp16 = ids[0]
            r = await api.post(
                f"/charge-points/{cp16}/commands",
                json={
                    "action": "GetCompositeSchedule",
                    "payload": {"connectorId": 1, "duration": 900},
                },
            )
            assert r.json()["status"] == "Accepted"
            schedule = r.json()["response"]["chargingSchedule"]
            assert schedule["chargingSchedulePeriod"][0]["limit"] == planned_w[cp16]

            # A priority session (an ambulance, a fleet van due out) gets the power first.
            second = next(t for t in active if t["charge_point_id"] == ids[1])
            r = await api.put(f"/transactions/{second['id']}/demand", json={"priority": 3})
            assert r.status_code == 200, r.text
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["plan"]["sessions"]}
            assert shares == {cp16: 0.0, ids[1]: 10.0}
            r = await api.put(f"/transactions/{second['id']}/demand", json={"priority": 1})
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["plan"]["sessions"]}
            assert shares == {cp16: pytest.approx(5, abs=0.35), ids[1]: pytest.approx(5, abs=0.35)}

            # The driver of the first session must leave in 30 minutes with 10 kWh more: it
            # needs more than the whole site can give, so it gets all of it for now.
            first = next(t for t in active if t["charge_point_id"] == cp16)
            leaving = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
            target = first["energy_wh"] / 1000 + 10 if first["energy_wh"] else 10
            r = await api.put(
                f"/transactions/{first['id']}/demand",
                json={"target_energy_kwh": target, "departure_at": leaving},
            )
            assert r.status_code == 200, r.text
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["plan"]["sessions"]}
            assert shares[cp16] == 10.0 and shares[ids[1]] == 0.0
            r = await api.put("/transactions/999999999/demand", json={"target_energy_kwh": 5})
            assert r.status_code == 404

            # A price signal: dear for two hours, then cheap. The second driver stays 8 hours:
            # their session waits for the cheap hours; the first, leaving soon, does not.
            later = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
            r = await api.put(
                f"/transactions/{second['id']}/demand",
                json={"target_energy_kwh": 5, "departure_at": later},
            )
            assert r.status_code == 200
            now = datetime.now(UTC)
            r = await api.put(f"/sites/{site_id}/limit", json={"max_power_kw": 40})
            r = await api.put(
                f"/sites/{site_id}/prices",
                json={
                    "steps": [
                        {
                            "starts_at": (now - timedelta(minutes=1)).isoformat(),
                            "price_per_kwh": 1.0,
                        },
                        {"starts_at": (now + timedelta(hours=2)).isoformat(), "price_per_kwh": 0.1},
                    ]
                },
            )
            assert r.status_code == 200, r.text
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["sessions"]}
            assert shares[ids[1]] == 0.0 and shares[cp16] > 15
            # the plan says why, in its own numbers (for the operator and the assistant)
            why = {p["charge_point_id"]: p["reason"] for p in r.json()["sessions"]}
            assert why[ids[1]].startswith("0.0 kW: it waits for cheaper energy (1 per kWh now, 0.1")
            # ... until its driver says "charge now": full power, whatever the price.
            r = await api.put(f"/transactions/{second['id']}/demand", json={"charge_now": True})
            assert r.status_code == 200, r.text
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["plan"]["sessions"]}
            assert shares[ids[1]] > 15
            r = await api.put(f"/transactions/{second['id']}/demand", json={"charge_now": False})
            shares = {p["charge_point_id"]: p["power_kw"] for p in r.json()["plan"]["sessions"]}
            assert shares[ids[1]] == 0.0
            site = (await api.get(f"/sites/{site_id}")).json()
            assert [step["price_per_kwh"] for step in site["price_schedule"]] == [1.0, 0.1]
            r = await api.put("/sites/NOPE/prices", json={"steps": []})
            assert r.status_code == 404

            # A limit schedule: nothing for the next hour (a demand-response event).
            r = await api.put(
                f"/sites/{site_id}/limit-schedule",
                json={
                    "steps": [
                        {"starts_at": (now - timedelta(minutes=1)).isoformat(), "max_power_kw": 0},
                        {"starts_at": (now + timedelta(hours=1)).isoformat(), "max_power_kw": 40},
                    ]
                },
            )
            assert r.status_code == 200, r.text
            assert [p["power_kw"] for p in r.json()["sessions"]] == [0.0, 0.0]
        finally:
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet


async def test_site_errors(system):
    async with system.api() as api:
        assert (await api.put("/sites/NOPE/limit", json={"max_power_kw": 5})).status_code == 404
        assert (await api.get("/sites/NOPE/plan")).status_code == 404
        site_id = unique_id("SITE")
        assert (
            await api.post("/sites", json={"id": site_id, "max_power_kw": 5})
        ).status_code == 201
        assert (
            await api.post("/sites", json={"id": site_id, "max_power_kw": 5})
        ).status_code == 409
        r = await api.put(f"/sites/{site_id}/limit", json={"max_power_kw": -1})
        assert r.status_code == 422
        plan = (await api.get(f"/sites/{site_id}/plan")).json()
        assert plan["sessions"] == [] and plan["solver"] == "idle"


async def test_power_an_ev_does_not_take_goes_to_the_others(system):
    """One EV draws 5 kW whatever it is given (its battery is nearly full); the site notices
    from its meter values, plans it at what it draws and gives the rest to the other."""
    site_id = unique_id("DRIFT")
    async with system.api() as api:
        r = await api.post("/sites", json={"id": site_id, "max_power_kw": 30})
        assert r.status_code == 201, r.text
        await api.post("/id-tags", json={"id_tag": "GRID-TAG"})
        fleets = []
        for name, kw in (("SLOW", 5.0), ("FAST", 22.0)):
            prefix = unique_id(name) + "-"
            cp_id = charge_point_ids(prefix, 1)[0]
            r = await api.post(
                "/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}", "site_id": site_id}
            )
            assert r.status_code == 201
            profile = dataclasses.replace(LONG_SESSIONS, power_kw=(kw, kw))
            fleets.append(
                (
                    cp_id,
                    asyncio.create_task(
                        run_fleet(
                            system.ocpp_url,
                            1,
                            password_template="pw-{id}",
                            id_prefix=prefix,
                            profile=profile,
                            seed=5,
                            console=Console(quiet=True),
                        )
                    ),
                )
            )
        slow, fast = (cp for cp, _ in fleets)
        try:

            async def shares():
                plan = (await api.get(f"/sites/{site_id}/plan")).json()
                return {p["charge_point_id"]: p["power_kw"] for p in plan["sessions"]}

            async def rebalanced():
                now = await shares()
                return now if len(now) == 2 and now[fast] >= 20 else None

            final = await eventually(
                rebalanced, within=60, message="the site did not give the unused power away"
            )
            assert final[slow] < 7 and sum(final.values()) <= 30 + 1e-6
        finally:
            for _, task in fleets:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_a_regular_drivers_departure_is_guessed_from_their_habit(system, database_url):
    """A driver who stayed 300-320 minutes on this weekday for three weeks, arriving at this
    time of day, says nothing today: the plan guesses their departure from that habit (the
    20th percentile: 304 minutes) and shows how."""
    site_id, prefix = unique_id("HABIT"), unique_id("HAB") + "-"
    cp_id = charge_point_ids(prefix, 1)[0]
    tag = unique_id("HABIT-TAG")
    async with system.api() as api:
        r = await api.post("/sites", json={"id": site_id, "max_power_kw": 40})
        assert r.status_code == 201, r.text
        r = await api.post(
            "/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}", "site_id": site_id}
        )
        assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": tag})
        now = datetime.now(UTC)
        with psycopg.connect(database_url) as conn:
            for weeks, minutes in ((1, 300), (2, 310), (3, 320)):
                started = now - timedelta(weeks=weeks, minutes=5)
                conn.execute(
                    """INSERT INTO transactions (charge_point_id, connector_id, id_tag,
                           started_at, meter_start_wh, stopped_at, meter_stop_wh,
                           start_id_tag_status)
                       VALUES (%s, 1, %s, %s, 0, %s, 20000, 'Accepted')""",
                    (cp_id, tag, started, started + timedelta(minutes=minutes)),
                )
        profile = dataclasses.replace(LONG_SESSIONS, id_tags=(tag,))
        fleet = asyncio.create_task(
            run_fleet(
                system.ocpp_url,
                1,
                password_template="pw-{id}",
                id_prefix=prefix,
                profile=profile,
                seed=7,
                console=Console(quiet=True),
            )
        )
        try:

            async def planned():
                plan = (await api.get(f"/sites/{site_id}/plan")).json()
                return plan["sessions"][0] if plan["sessions"] else None

            session = await eventually(planned, within=60, message="the session was not planned")
            guess = session["departure_guess"]
            assert guess["source"] == "driver_alike" and guess["sessions"] == 3, guess
            assert guess["dwell_minutes"] == pytest.approx(304)
            assert guess["confidence"] == "medium"  # three alike sessions: not enough to wait
            cp = (await api.get(f"/charge-points/{cp_id}")).json()
            started = datetime.fromisoformat(cp["active_transactions"][0]["started_at"])
            departure = datetime.fromisoformat(session["departure_at"].replace("Z", "+00:00"))
            assert abs((departure - started).total_seconds() - 304 * 60) < 1
        finally:
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet


async def test_a_21_ev_staying_the_night_gives_energy_to_one_leaving_soon(system, database_url):
    """Vehicle-to-grid end to end: a 2.1 EV asks for bidirectional power (NotifyEVChargingNeeds,
    DC_BPT, up to 20 kWh to give); behind an 11 kW limit, a driver leaving in 15 minutes
    needs all of their 22 kW now: the staying EV is sent a discharge setpoint for the rest,
    and its charger reports it in force."""
    site_id, prefix = unique_id("V2G"), unique_id("V2G") + "-"
    ids = charge_point_ids(prefix, 2)
    async with system.api() as api:
        r = await api.post("/sites", json={"id": site_id, "max_power_kw": 11})
        assert r.status_code == 201, r.text
        for cp_id in ids:
            r = await api.post(
                "/charge-points", json={"id": cp_id, "password": f"pw-{cp_id}", "site_id": site_id}
            )
            assert r.status_code == 201
        await api.post("/id-tags", json={"id_tag": "GRID-TAG"})
        fleet = asyncio.create_task(
            run_fleet(
                system.ocpp_url,
                2,
                password_template="pw-{id}",
                id_prefix=prefix,
                profile=dataclasses.replace(LONG_SESSIONS, v2x_give_kwh=20.0),
                seed=3,
                share_21=0.5,  # one 2.1, one 1.6
                console=Console(quiet=True),
            )
        )
        try:

            async def both_charging():
                found = {}
                for cp_id in ids:
                    cp = (await api.get(f"/charge-points/{cp_id}")).json()
                    if cp["active_transactions"]:
                        found[cp["ocpp_protocol"]] = cp["active_transactions"][0]
                return found if len(found) == 2 else None

            active = await eventually(both_charging, within=60, message="chargers did not start")
            staying, leaving = active["ocpp2.1"], active["ocpp1.6"]

            async def told_what_it_may_give():
                with psycopg.connect(database_url) as conn:
                    row = conn.execute(
                        "SELECT v2x FROM session_demands WHERE transaction_id = %s",
                        (staying["id"],),
                    ).fetchone()
                return row[0] if row and row[0] else None

            given = await eventually(told_what_it_may_give, within=30, message="no V2X needs")
            assert given["max_discharge_kw"] == 22.0 and given["v2x_min_kwh"] == -20.0
            # The 2.1 EV told its needs (its session's end); its driver stays the night.
            r = await api.put(
                f"/transactions/{staying['id']}/demand",
                json={"departure_at": (datetime.now(UTC) + timedelta(hours=8)).isoformat()},
            )
            assert r.status_code == 200, r.text
            r = await api.put(
                f"/transactions/{leaving['id']}/demand",
                json={
                    "target_energy_kwh": 30,
                    "departure_at": (datetime.now(UTC) + timedelta(minutes=15)).isoformat(),
                },
            )
            assert r.status_code == 200, r.text
            plan = r.json()["plan"]
            by_cp = {p["charge_point_id"]: p for p in plan["sessions"]}
            giving = by_cp[staying["charge_point_id"]]
            taking = by_cp[leaving["charge_point_id"]]
            assert taking["power_kw"] == pytest.approx(22.0, abs=0.01), plan
            assert giving["power_kw"] == pytest.approx(-11.0, abs=0.01), plan
            assert giving["limit"] == pytest.approx(-11000.0, abs=1), plan  # W: a setpoint
            assert giving["status"] == "Accepted" and giving["verified"], plan
            assert "gives energy back" in giving["reason"], plan
            assert giving["limit_in_force"] == pytest.approx(giving["limit"], abs=1)

            # The site's V2G settings: validated, stored, shown.
            r = await api.patch(f"/sites/{site_id}", json={"max_export_kw": -1})
            assert r.status_code == 422 and "max_export_kw" in r.text
            settings = {
                "max_export_kw": 5,
                "export_price_per_kwh": 0.1,
                "battery_wear_cost_per_kwh": 0.02,
            }
            r = await api.patch(f"/sites/{site_id}", json=settings)
            assert r.status_code == 200, r.text
            assert {k: r.json()[k] for k in settings} == settings
        finally:
            fleet.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fleet
