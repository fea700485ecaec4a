"""Why a session got the power it got in the slot applied, in plain words from the plan's own
numbers (pure): for the operator's plan view and the assistant ("why is CP-17 at 3 kW?")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sigecve.ocpp.timestamps import format_timestamp
from sigecve.smart_charging.scenario import Scenario

AT_LIMIT_KW = 0.05


def power_reasons(
    s: Scenario, powers: list[float], may_wait: list[bool], now: datetime
) -> list[str]:
    """A reason for each of the first `len(powers)` sessions of `s` (the open ones) at the
    powers of slot 0. `may_wait`: the session may wait for cheaper slots (a departure told or
    confidently guessed)."""
    h = s.slot_hours
    limit = s.site_limit(0)
    load = sum(powers)
    cp_max = {cp.id: cp.max_power_kw for cp in s.charge_points}
    reasons = []
    for x, kw, wait in zip(s.sessions, powers, may_wait, strict=False):
        cap = min(x.max_power_kw, cp_max[x.charge_point_id])
        departure = now + timedelta(minutes=s.slot_minutes * x.departure_slot)
        window = s.prices[: max(1, min(x.departure_slot, s.horizon_slots))]
        cheapest = min(window)
        if kw < -AT_LIMIT_KW:
            reasons.append(
                f"{kw:.1f} kW: it gives energy back (vehicle-to-grid, {s.prices[0]:g} per kWh "
                f"now) and still gets its {x.energy_kwh:.1f} kWh before it leaves at "
                f"{format_timestamp(departure)}"
            )
        elif x.energy_kwh <= 1e-3:
            reasons.append("0 kW: it has the energy it needs")
        elif kw >= cap - AT_LIMIT_KW:
            reasons.append(f"{kw:.1f} kW: all its EV and charge point take ({cap:.1f} kW)")
        elif kw * h >= x.energy_kwh - 1e-3:
            reasons.append(f"{kw:.1f} kW: it needs only {x.energy_kwh:.1f} kWh more")
        elif wait and cheapest < s.prices[0] - 1e-9 and kw < cap - AT_LIMIT_KW:
            first = window.index(cheapest)
            at = format_timestamp(now + timedelta(minutes=s.slot_minutes * first))
            reasons.append(
                f"{kw:.1f} kW: it waits for cheaper energy ({s.prices[0]:g} per kWh now, "
                f"{cheapest:g} from {at}) and still gets its {x.energy_kwh:.1f} kWh before it "
                f"leaves at {format_timestamp(departure)}"
            )
        elif load >= limit - AT_LIMIT_KW:
            reasons.append(
                f"{kw:.1f} kW of its {cap:.1f}: the site's {limit:g} kW are all in use by "
                f"{len(powers)} sessions, shared by what each needs before it leaves and by "
                f"priority (this one {x.priority:g})"
            )
        else:
            reasons.append(
                f"{kw:.1f} kW of its {cap:.1f}: the plan delivers its {x.energy_kwh:.1f} kWh "
                f"by {format_timestamp(departure)} at the lowest cost"
            )
    return reasons
