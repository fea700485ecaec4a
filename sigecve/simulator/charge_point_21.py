"""A simulated OCPP 2.1 charging station: the 2.0.1 one on 2.1's schemas and dataclasses.

Everything it sends and answers is checked against the 2.1 schemas by the `ocpp` package, so a
fleet of these exercises the CSMS's 2.1 side end to end with the same behaviour and counters.
"""

from __future__ import annotations

from datetime import timedelta

from ocpp.v21 import call, call_result

from sigecve.ocpp.timestamps import format_timestamp, utc_now
from sigecve.simulator.charge_point import OngoingSession
from sigecve.simulator.charge_point_201 import SimulatedChargePoint201


class SimulatedChargePoint21(SimulatedChargePoint201):
    model = "Simulator-2.1"
    _call = call
    _call_result = call_result
    _ocpp_version = "2.1"

    async def session_started(self, evse: int, session: OngoingSession) -> None:
        """A bidirectional EV (the profile's `v2x_give_kwh`) says what it needs and may give."""
        give_kwh = self.profile.v2x_give_kwh
        if give_kwh <= 0:
            return
        target_wh = session.wanted_w * session.remaining_s / 3600
        departure = utc_now() + timedelta(seconds=session.remaining_s)
        await self.send(
            call.NotifyEVChargingNeeds(
                evse_id=evse,
                charging_needs={
                    "requested_energy_transfer": "DC_BPT",
                    "control_mode": "ScheduledControl",
                    "departure_time": format_timestamp(departure),
                    "v2x_charging_parameters": {
                        "max_charge_power": session.wanted_w,
                        "max_discharge_power": session.wanted_w,
                        "ev_target_energy_request": round(target_wh),
                        "ev_min_v2x_energy_request": -round(give_kwh * 1000),
                        "ev_max_energy_request": round(target_wh + give_kwh * 1000),
                    },
                },
            )
        )
