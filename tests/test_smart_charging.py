"""The smart-charging planner and `sigecve schedule` (pure: no Ray, no database)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from composition.cli import main
from sigecve.domain import Site
from sigecve.smart_charging.baselines import equal_share, uncontrolled
from sigecve.smart_charging.planner import plan
from sigecve.smart_charging.profiles import composite_limit, composite_schedule_request
from sigecve.smart_charging.scenario import Scenario
from sigecve.smart_charging.site_scheduler import (
    DEFAULTS,
    SETTLE,
    SiteScheduler,
    ev_ceiling_after,
    expected_arrivals,
    first_slot_powers,
    learned_defaults,
    matches,
    site_scenario,
)

DATA = Path(__file__).parent / "data"


def small() -> dict:
    return {
        "name": "small",
        "slot_minutes": 60,
        "horizon_slots": 4,
        "site": {"id": "S", "max_power_kw": 10},
        "prices": [3, 1, 1, 3],
        "charge_points": [{"id": "A", "max_power_kw": 11}, {"id": "B", "max_power_kw": 11}],
        "sessions": [
            {
                "id": "s1",
                "charge_point_id": "A",
                "arrival_slot": 0,
                "departure_slot": 4,
                "energy_kwh": 15,
                "max_power_kw": 11,
            },
            {
                "id": "s2",
                "charge_point_id": "B",
                "arrival_slot": 1,
                "departure_slot": 3,
                "energy_kwh": 20,
                "max_power_kw": 7,
            },
        ],
    }


def random_scenario(n: int, seed: int) -> dict:
    rng = random.Random(seed)
    slots = 96
    sessions = []
    for i in range(n):
        arrival = rng.randrange(0, 80)
        sessions.append(
            {
                "id": f"s{i}",
                "charge_point_id": f"cp{i % max(1, n - 2)}",
                "arrival_slot": arrival,
                "departure_slot": arrival + rng.randrange(4, 40),
                "energy_kwh": rng.uniform(5, 60),
                "max_power_kw": rng.choice([7.4, 11, 22, 50]),
            }
        )
    return {
        "name": f"random-{n}",
        "slot_minutes": 15,
        "horizon_slots": slots,
        "site": {
            "id": "S",
            "max_power_kw": 6 * n,
            "max_power_kw_by_slot": [rng.uniform(3, 8) * n for _ in range(slots)],
        },
        "prices": [0.1 + 0.2 * (30 <= t < 80) + rng.uniform(0, 0.05) for t in range(slots)],
        "charge_points": [{"id": f"cp{i}", "max_power_kw": 22} for i in range(max(1, n - 2))],
        "sessions": sessions,
    }


def test_the_plan_of_a_small_scenario_is_the_optimum_worked_by_hand():
    result = plan(Scenario.model_validate(small()))
    # s2 can take at most 7 kW x 2 h; s1 the 15 it asked. Cheapest: s2 and 3 kW of s1 in the
    # 1-priced slots, s1's other 9 kWh at price 3.
    assert result.summary.energy_kwh == pytest.approx(29, abs=1e-3)
    assert result.summary.cost == pytest.approx(47, abs=1e-3)
    assert result.summary.peak_kw == pytest.approx(10, abs=1e-3)
    assert result.summary.status == "optimal"
    s1, s2 = (p.power_kw for p in result.sessions)
    assert s2 == pytest.approx([0, 7, 7, 0], abs=1e-4)  # the solver's tolerances
    assert s1[1:3] == pytest.approx([3, 3], abs=1e-4)


@pytest.mark.parametrize("seed", [1, 2])
def test_plans_are_feasible_and_beat_the_baselines(seed):
    raw = random_scenario(30, seed)
    s = Scenario.model_validate(raw)
    result = plan(s)
    powers = np.array([p.power_kw for p in result.sessions])
    assert_feasible(s, powers)
    h = s.slot_hours
    fair = equal_share(s)
    assert result.summary.energy_kwh >= fair.sum() * h - 1e-3
    jsonschema.validate(json.loads(result.model_dump_json()), _schema("plan"))


def assert_feasible(s: Scenario, powers: np.ndarray) -> None:
    """Within the site, charge point and EV limits, inside each window, at most the energy
    asked, and off or at least the minimum power."""
    h = s.slot_hours
    for t in range(s.horizon_slots):
        assert powers[:, t].sum() <= s.site_limit(t) + 1e-6
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    for i, x in enumerate(s.sessions):
        assert powers[i, : x.arrival_slot].sum() == 0 and powers[i, x.departure_slot :].sum() == 0
        assert powers[i].max() <= min(x.max_power_kw, cp_max[x.charge_point_id]) + 1e-6
        assert powers[i].sum() * h <= x.energy_kwh + 1e-6
        if x.min_power_kw:
            on = powers[i] > 1e-6
            assert (powers[i][on] >= x.min_power_kw - 1e-6).all(), x.id
    for cp in cp_max:
        members = [i for i, x in enumerate(s.sessions) if x.charge_point_id == cp]
        assert (powers[members].sum(axis=0) <= cp_max[cp] + 1e-6).all()


def with_minimum_powers(raw: dict, seed: int, share: float = 0.3) -> dict:
    rng = random.Random(seed)
    for x in raw["sessions"]:
        if rng.random() < share:
            x["min_power_kw"] = rng.choice([1.4, 4.1, 6.0])
    return raw


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_network_flow_plan_is_the_exact_lp_optimum(seed):
    """Without minimum powers the flow is the LP itself: the same energy and cost as HiGHS's
    solution of the same objectives, within the flow's integer units."""
    s = Scenario.model_validate(random_scenario(40, seed))
    fast, exact = plan(s), plan(s, exact=True)
    assert_feasible(s, np.array([p.power_kw for p in fast.sessions]))
    assert fast.summary.energy_kwh == pytest.approx(exact.summary.energy_kwh, rel=1e-5)
    assert fast.summary.cost == pytest.approx(exact.summary.cost, rel=1e-4)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_minimum_powers_repaired_from_the_flow_stay_near_the_exact_milp(seed):
    """With a minimum power on a third of the sessions: the repaired flow honours every
    minimum, and its energy and cost are within 0.1 % and 0.5 % of the MILP's optimum."""
    s = Scenario.model_validate(with_minimum_powers(random_scenario(40, seed), seed))
    fast, exact = plan(s), plan(s, exact=True)
    assert exact.summary.status == fast.summary.status == "optimal"
    assert_feasible(s, np.array([p.power_kw for p in fast.sessions]))
    assert fast.summary.energy_kwh >= 0.999 * exact.summary.energy_kwh
    assert fast.summary.cost <= 1.005 * exact.summary.cost


def test_a_minimum_above_what_the_ev_can_take_means_it_never_charges():
    raw = small()
    raw["sessions"][1]["min_power_kw"] = 8  # s2's EV takes 7 kW at most
    result = plan(Scenario.model_validate(raw))
    assert result.sessions[1].power_kw == [0.0] * 4
    # s1 alone: its 15 kWh in the two cheap hours, spread evenly (the lowest peak)
    assert result.sessions[0].power_kw == pytest.approx([0, 7.5, 7.5, 0], abs=1e-3)


def test_the_exact_solver_is_a_command_line_option(tmp_path, capsys):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(with_minimum_powers(random_scenario(20, 7), 7)))
    fast, exact = tmp_path / "fast.json", tmp_path / "exact.json"
    assert main(["schedule", "--scenario", str(scenario), "--out", str(fast)]) == 0
    assert main(["schedule", "--scenario", str(scenario), "--out", str(exact), "--exact"]) == 0
    a, b = (json.loads(f.read_text())["summary"] for f in (fast, exact))
    assert a["energy_kwh"] == pytest.approx(b["energy_kwh"], rel=1e-3)


def test_minimum_power_means_off_or_at_least_the_minimum():
    raw = small()
    raw["sessions"][0]["min_power_kw"] = 6
    result = plan(Scenario.model_validate(raw))
    for p in result.sessions[0].power_kw:
        assert p == pytest.approx(0, abs=1e-6) or p >= 6 - 1e-6


def test_uncontrolled_charging_ignores_the_site_limit():
    s = Scenario.model_validate(small())
    powers = uncontrolled(s)
    assert powers.sum(axis=0).max() > s.site.max_power_kw  # 11 + 7 in slot 1


def _schema(name: str) -> dict:
    return json.loads((DATA / f"{name}.schema.json").read_text())


def test_schedule_command_writes_a_plan_in_the_contract_format(tmp_path, capsys):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(small()))
    jsonschema.validate(small(), _schema("scenario"))
    out = tmp_path / "p.json"
    assert main(["schedule", "--scenario", str(scenario), "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    jsonschema.validate(written, _schema("plan"))
    assert written["scenario"] == "small" and len(written["sessions"]) == 2
    assert "29.0 of 35.0 kWh" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s.update(prices=[1, 2]), "prices has 2 entries"),
        (lambda s: s["sessions"][1].update(departure_slot=0), "sessions.1.departure_slot"),
        (lambda s: s["sessions"][0].update(departure_slot=0, arrival_slot=2), "sessions.0"),
        (lambda s: s["sessions"][0].update(charge_point_id="Z"), "sessions[0].charge_point_id"),
        (lambda s: s["site"].pop("max_power_kw"), "site.max_power_kw"),
        (lambda s: s.update(slot_minutes=0), "slot_minutes"),
    ],
)
def test_invalid_scenarios_name_the_field(tmp_path, capsys, change, field):
    raw = small()
    change(raw)
    scenario = tmp_path / "bad.json"
    scenario.write_text(json.dumps(raw))
    assert main(["schedule", "--scenario", str(scenario), "--out", str(tmp_path / "p")]) == 2
    assert field in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_the_online_scheduler_delivers_without_knowing_departures():
    from sigecve.smart_charging.online import receding_horizon

    s = Scenario.model_validate(random_scenario(12, seed=5))
    offline = plan(s).summary.energy_kwh
    online = receding_horizon(s, dwell_estimate_slots=6)
    h = s.slot_hours
    for t in range(s.horizon_slots):
        assert online[:, t].sum() <= s.site_limit(t) + 1e-6
    for i, x in enumerate(s.sessions):
        assert online[i, : x.arrival_slot].sum() == 0 and online[i, x.departure_slot :].sum() == 0
        assert online[i].sum() * h <= x.energy_kwh + 1e-6
    assert online.sum() * h >= 0.9 * offline


@pytest.mark.parametrize("unit", ["W", "A"])
async def test_tx_profiles_are_valid_ocpp_and_carry_the_planned_power(unit):
    from ocpp.messages import Call, validate_payload

    from sigecve.smart_charging.profiles import (
        profile_limit_kw,
        rate_limit,
        tx_profile_16,
        tx_profile_201,
    )

    limit = rate_limit(11.0, unit, 3)
    assert limit == (11000.0 if unit == "W" else pytest.approx(15.9, abs=0.05))
    p16 = tx_profile_16(1, 42, 7, limit, unit, 3)
    p201 = tx_profile_201(1, "tx-42", 7, limit, unit, 3)
    await validate_payload(Call("1", "SetChargingProfile", p16), "1.6")
    await validate_payload(Call("1", "SetChargingProfile", p201), "2.0.1")
    await validate_payload(Call("1", "SetChargingProfile", p201), "2.1")  # 2.1 sends the same
    for payload in (p16, p201):
        assert profile_limit_kw(payload) == pytest.approx(11.0, rel=0.01)


def test_schedules_give_the_value_in_force_at_each_slot():
    from datetime import UTC, datetime, timedelta

    from sigecve.smart_charging.site_scheduler import HORIZON_SLOTS, values_by_slot

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    steps = [(now + timedelta(hours=2), 0.1), (now + timedelta(minutes=30), 0.9)]
    values = values_by_slot(steps, 0.25, now)
    assert len(values) == HORIZON_SLOTS
    assert values[:2] == [0.25, 0.25] and values[2:8] == [0.9] * 6 and values[8:10] == [0.1, 0.1]


def test_only_sessions_with_a_guessed_departure_are_charged_early():
    from sigecve.smart_charging.planner import optimal_powers

    raw = small()
    raw["site"]["max_power_kw"] = 30
    raw["prices"] = [5, 5, 1, 1]  # cheap later
    raw["sessions"][1].update(arrival_slot=0, departure_slot=4, energy_kwh=7)
    s = Scenario.model_validate(raw)
    powers = optimal_powers(s, minimise_peak=False, prefer_early=[False, True])
    # s1's departure is known: it waits for the cheap slots; s2's is a guess: it charges now.
    assert powers[0, :2].sum() == pytest.approx(0, abs=1e-6)
    assert powers[1, 0] == pytest.approx(7, abs=1e-4)


def test_a_priority_session_is_served_first_when_energy_is_short():
    scenario = small()
    scenario["horizon_slots"], scenario["prices"] = 1, [1]
    for s in scenario["sessions"]:
        s.update(arrival_slot=0, departure_slot=1, energy_kwh=10, max_power_kw=10)
    even = plan(Scenario.model_validate(scenario))
    assert even.summary.energy_kwh == pytest.approx(10)
    scenario["sessions"][1]["priority"] = 3
    ranked = plan(Scenario.model_validate(scenario))
    assert [s.power_kw[0] for s in ranked.sessions] == pytest.approx([0, 10], abs=1e-6)
    scenario["sessions"][0]["priority"] = 11
    with pytest.raises(ValueError, match="priority"):
        Scenario.model_validate(scenario)


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def open_session(**extra) -> dict:
    row = {
        "id": 7,
        "ocpp_id": "42",
        "charge_point_id": "A",
        "started_at": NOW,
        "energy_wh": 0,
        "cp_max_power_kw": 22.0,
        "departure_at": None,
        "target_energy_kwh": None,
        "ev_max_power_kw": None,
        "priority": None,
    }
    return {**row, **extra}


def test_a_site_with_history_plans_unknown_sessions_by_its_own_medians():
    assert learned_defaults({"sessions": 4, "median_kwh": 9.0, "median_minutes": 50.0}) == (
        DEFAULTS.model_copy(update={"sessions_seen": 4})
    )
    learned = learned_defaults({"sessions": 30, "median_kwh": 12.5, "median_minutes": 95.0})
    assert (learned.target_energy_kwh, learned.dwell_minutes, learned.source) == (
        12.5,
        95.0,
        "site history",
    )
    site = Site(id="S", max_power_kw=50)
    scenario = site_scenario(site, [open_session()], NOW, learned)
    (session,) = scenario.sessions
    assert (session.energy_kwh, session.departure_slot) == (12.5, 6)  # 95 min: 6 slots
    assert scenario.sessions[0].priority == 1
    ranked = site_scenario(site, [open_session(priority=4)], NOW, learned)
    assert ranked.sessions[0].priority == 4


def test_an_ev_drawing_less_than_planned_is_capped_until_it_presses_again():
    # Planned 11 kW, draws 4: tapering. Planned at 4.5 kW (headroom) from now on.
    assert ev_ceiling_after(11.0, 4.0, None) == (4.5, True)
    assert ev_ceiling_after(4.5, 4.1, 4.5) == (4.5, False)  # still under its ceiling
    assert ev_ceiling_after(4.5, 4.4, 4.5) == (None, True)  # pressing: may want more
    assert ev_ceiling_after(11.0, 10.5, None) == (None, False)  # following the plan
    assert ev_ceiling_after(5.0, 8.0, None) == (None, True)  # not following its profile
    assert ev_ceiling_after(11.0, 0.0, None) == (0.5, True)  # full
    site = Site(id="S", max_power_kw=50)
    capped = site_scenario(site, [open_session()], NOW, DEFAULTS, {("A", "42"): 4.5})
    assert capped.sessions[0].max_power_kw == 4.5


def test_a_reading_is_judged_only_against_a_limit_the_ev_had_time_to_follow():
    scheduler = SiteScheduler(repos=None, directory=None, site_id="S")  # no I/O here
    assert not scheduler.power_observed("A", 42, 5.0, NOW)  # nothing accepted yet
    scheduler.profile_accepted("A", 42, 22.0, NOW)
    # The site limit drops to 5 kW for this session. Read while the profile is on its way,
    # 5 kW is not an EV unable to draw 22 (which would hold it at 5.5 kW from then on).
    lowered = NOW + timedelta(minutes=5)
    scheduler.profile_sent("A", 42)
    assert not scheduler.power_observed("A", "42", 5.0, lowered)
    scheduler.profile_accepted("A", 42, 5.0, lowered)
    assert not scheduler.power_observed("A", "42", 5.0, lowered + SETTLE)  # follows the plan
    # Given more again, it is judged against the new power once settled, not before.
    raised = lowered + timedelta(minutes=1)
    scheduler.profile_sent("A", 42)
    scheduler.profile_accepted("A", 42, 11.0, raised)
    assert not scheduler.power_observed("A", "42", 5.0, raised + SETTLE / 2)
    assert scheduler.power_observed("A", "42", 5.0, raised + SETTLE)  # tapering: re-plan
    # It stays planned at what it draws (with headroom) until it presses against that.
    site = Site(id="S", max_power_kw=50)
    capped = site_scenario(site, [open_session()], NOW, DEFAULTS, scheduler.ev_ceilings)
    assert capped.sessions[0].max_power_kw == 5.5


def test_the_limit_in_force_is_read_from_either_versions_composite_schedule():
    v16 = {
        "status": "Accepted",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
        },
    }
    v201 = {
        "status": "Accepted",
        "schedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 3}],
        },
    }
    assert composite_limit(v16, "W", 3) == 7400
    assert composite_limit(v201, "A", 3) == 16
    assert composite_limit(v201, "W", 3) == 11040  # 16 A x 230 V x 3
    assert composite_limit(v16, "A", 3) == pytest.approx(10.7, abs=0.05)
    assert composite_limit({"status": "Rejected"}, "W", 3) is None
    assert matches(7400.0, 7400.0) and matches(7401.0, 7400.0) and not matches(7000.0, 7400.0)
    assert not matches(None, 7400.0)
    assert composite_schedule_request("ocpp1.6", 2, "W") == {
        "connectorId": 2,
        "duration": 900,
        "chargingRateUnit": "W",
    }
    for protocol in ("ocpp2.0.1", "ocpp2.1"):
        assert composite_schedule_request(protocol, 2, "W") == {
            "evseId": 2,
            "duration": 900,
            "chargingRateUnit": "W",
        }


def test_a_known_departure_waits_for_cheap_slots_unless_a_crowd_is_expected_then():
    site = Site(
        id="S",
        max_power_kw=10,
        price_per_kwh=1.0,
        price_schedule=[{"starts_at": NOW + timedelta(hours=2), "price_per_kwh": 0.1}],
    )
    staying = open_session(departure_at=NOW + timedelta(hours=8), target_energy_kwh=20)
    alone = site_scenario(site, [staying], NOW)
    assert first_slot_powers(alone, [True])[0][0] == pytest.approx(0, abs=1e-6)
    # Yesterday, from two hours on, ten EVs came for 60 kWh each: the cheap hours will be
    # taken, so the EV here takes the two dear hours, all of them (20 kWh at 10 kW).
    yesterday = [
        {
            "started_at": NOW - timedelta(hours=22),
            "stopped_at": NOW - timedelta(hours=16),
            "energy_kwh": 60.0,
            "cp_max_power_kw": 22.0,
        }
    ] * 10
    expected = expected_arrivals(yesterday, NOW, DEFAULTS)
    assert len(expected) == 10
    assert (expected[0]["arrival_slot"], expected[0]["departure_slot"]) == (8, 32)
    crowded = site_scenario(site, [staying], NOW, expected=expected)
    powers, solver = first_slot_powers(crowded, [True])
    assert solver == "optimal" and len(powers) == 1 and powers[0] == pytest.approx(10)
    gone = [{**yesterday[0], "started_at": NOW - timedelta(hours=25)}]
    assert expected_arrivals(gone, NOW, DEFAULTS) == []


async def test_a_replan_asked_for_while_one_runs_runs_again_after_it():
    import asyncio

    from sigecve.smart_charging.coalescing import Coalesced

    runs: list[int] = []
    started, release = asyncio.Event(), asyncio.Event()
    finished = asyncio.Queue()

    async def work():
        runs.append(len(runs))
        started.set()
        await release.wait()
        await finished.put(len(runs))

    soon = Coalesced(work, delay_s=0.01)
    soon.request()
    soon.request()  # joins the first run
    await started.wait()
    soon.request()  # arrives while the first run reads: must not be lost
    soon.request()  # ... and joins the second run
    release.set()
    assert await finished.get() == 1
    assert await finished.get() == 2
    soon.cancel()
    assert runs == [0, 1]


def test_an_empty_scenario_is_a_valid_empty_plan(tmp_path):
    raw = {**small(), "charge_points": [], "sessions": []}
    scenario, out = tmp_path / "empty.json", tmp_path / "plan.json"
    scenario.write_text(json.dumps(raw))
    for extra in ([], ["--exact"]):
        assert main(["schedule", "--scenario", str(scenario), "--out", str(out), *extra]) == 0
        written = json.loads(out.read_text())
        jsonschema.validate(written, _schema("plan"))
        assert written["sessions"] == [] and written["summary"]["status"] == "optimal"
        assert written["summary"]["energy_kwh"] == 0 and written["summary"]["shortfalls"] == {}


def test_a_scenario_that_cannot_be_met_says_who_gets_less_and_why(tmp_path, capsys):
    raw = small()
    raw["charge_points"] += [{"id": "C", "max_power_kw": 11}, {"id": "D", "max_power_kw": 3}]
    raw["sessions"] += [
        # 3 kW for 2 h on D: 6 kWh at most of the 10 asked
        {
            "id": "short-window",
            "charge_point_id": "D",
            "arrival_slot": 2,
            "departure_slot": 4,
            "energy_kwh": 10,
            "max_power_kw": 11,
        },
        # a 4 kW minimum on a 3 kW charge point: never on
        {
            "id": "min-too-high",
            "charge_point_id": "D",
            "arrival_slot": 0,
            "departure_slot": 2,
            "energy_kwh": 2,
            "max_power_kw": 11,
            "min_power_kw": 4,
        },
        {
            "id": "served",
            "charge_point_id": "C",
            "arrival_slot": 0,
            "departure_slot": 1,
            "energy_kwh": 0.5,
            "max_power_kw": 11,
        },
    ]
    scenario, out = tmp_path / "s.json", tmp_path / "p.json"
    scenario.write_text(json.dumps(raw))
    assert main(["schedule", "--scenario", str(scenario), "--out", str(out)]) == 0
    by_id = {x["id"]: x for x in json.loads(out.read_text())["sessions"]}
    # s1 and s2 want 35 kWh; the 10 kW site holds 40 in the 4 hours, shared with the others
    assert by_id["short-window"]["shortfall_reason"] == "window"
    assert by_id["short-window"]["energy_kwh"] == pytest.approx(6, abs=1e-3)
    assert by_id["short-window"]["shortfall_kwh"] == pytest.approx(4, abs=1e-3)
    assert by_id["min-too-high"]["shortfall_reason"] == "minimum_above_limit"
    assert by_id["min-too-high"]["energy_kwh"] == 0
    assert by_id["served"]["shortfall_reason"] is None and by_id["served"]["shortfall_kwh"] == 0
    # s2 asks 20 kWh in 2 h at 7 kW: 14 at most
    assert by_id["s2"]["shortfall_reason"] == "window"
    assert by_id["s1"]["shortfall_reason"] in (None, "site_limit")
    printed = capsys.readouterr().out
    assert "sessions get less than they asked" in printed and "window" in printed


def test_a_full_site_is_the_reason_when_it_is():
    raw = small()
    raw["site"]["max_power_kw"] = 4  # 16 kWh in all for 35 asked
    result = plan(Scenario.model_validate(raw))
    reasons = {x.id: x.shortfall_reason for x in result.sessions}
    assert reasons["s1"] == "site_limit"
    assert result.summary.shortfalls["site_limit"] >= 1
