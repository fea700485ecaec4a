"""A simulated OCPP 2.1 charging station: the 2.0.1 one on 2.1's schemas and dataclasses.

Everything it sends and answers is checked against the 2.1 schemas by the `ocpp` package, so a
fleet of these exercises the CSMS's 2.1 side end to end with the same behaviour and counters.
"""

from __future__ import annotations

from ocpp.v21 import call, call_result

from sigecve.simulator.charge_point_201 import SimulatedChargePoint201


class SimulatedChargePoint21(SimulatedChargePoint201):
    model = "Simulator-2.1"
    _call = call
    _call_result = call_result
    _ocpp_version = "2.1"
