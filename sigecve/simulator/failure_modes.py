"""How a degrading charger behaves, as the generated fleet (ml/generate.py) and the live
simulator both play it: the six failure modes and what announces each, as a function of the
degree of degradation d (0: healthy, 1: about to fail).

- connector: more heat per A^2 (worn contacts), more failed starts;
- reader: starts fail more and more (the RFID reader misreads cards);
- communication: heartbeats go missing and the charger drops its connection;
- power_electronics: it delivers less than it offers, and runs hotter;
- ground_fault: GroundFailure error codes come in bursts;
- meter: PowerMeterFailure codes, and sessions that record no energy.
"""

from __future__ import annotations

from dataclasses import dataclass

FAILURE_MODES = (
    "connector",
    "reader",
    "communication",
    "power_electronics",
    "ground_fault",
    "meter",
)
# The error code a charger reports when it faults in each mode.
FAULT_CODE = {
    "connector": "ConnectorLockFailure",
    "reader": "ReaderFailure",
    "communication": "WeakSignal",
    "power_electronics": "OverCurrentFailure",
    "ground_fault": "GroundFailure",
    "meter": "PowerMeterFailure",
}
# Codes healthy chargers report now and then, so that no code alone means "about to fail".
HARMLESS_CODES = ("EVCommunicationError", "OtherError", "HighTemperature", "ReaderFailure")
HEALTHY_FAILED_START = 0.03
VOLTS = 230.0  # per phase, three phases


@dataclass(frozen=True)
class Degradation:
    """The failure under way (None: healthy) and how far it has gone (0-1)."""

    mode: str | None = None
    degree: float = 0.0

    def failed_start_probability(self) -> float:
        d = self.degree
        return (
            HEALTHY_FAILED_START
            + (0.15 * d if self.mode == "connector" else 0.0)
            + (0.5 * d if self.mode == "reader" else 0.0)
        )

    def drawn_w(self, wanted_w: float) -> float:
        """What the power electronics deliver of what the EV wants."""
        return wanted_w * (1 - 0.4 * self.degree) if self.mode == "power_electronics" else wanted_w

    def temperature_c(self, ambient_c: float, heat_c_per_a2: float, amps: float) -> float:
        """The connector's temperature (before measurement noise): ambient plus heating."""
        heat = heat_c_per_a2 * (1 + (1.5 * self.degree if self.mode == "connector" else 0.0))
        extra = 8 * self.degree if self.mode == "power_electronics" else 0.0
        return ambient_c + heat * amps**2 + extra

    def missed_heartbeat_probability(self) -> float:
        return 0.6 * self.degree if self.mode == "communication" else 0.0

    def disconnect_probability(self) -> float:
        """Of a missed heartbeat: the connection drops altogether."""
        return 0.3 if self.mode == "communication" else 0.0

    def error_code_rate_per_day(self) -> tuple[str | None, float]:
        """The code this degradation reports in bursts, and how many a day."""
        if self.mode in ("ground_fault", "meter"):
            return FAULT_CODE[self.mode], 2.0 * self.degree
        return None, 0.0

    def zero_energy_probability(self) -> float:
        return 0.4 * self.degree if self.mode == "meter" else 0.0


def amps_of(power_w: float) -> float:
    """Phase current of a three-phase draw."""
    return power_w / (3 * VOLTS)
