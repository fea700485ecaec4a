"""From planned power to OCPP charging profiles (pure): a TxProfile per transaction (on 2.1,
a discharge setpoint for vehicle-to-grid)."""

from __future__ import annotations

from typing import Any

NOMINAL_VOLTAGE_V = 230.0
TX_PROFILE_STACK_LEVEL = 1


def rate_limit(power_kw: float, unit: str, phases: int) -> float:
    """The schedule limit for `power_kw` in the charger's unit: W, or A per phase."""
    if unit == "W":
        return round(power_kw * 1000.0, 1)
    return round(power_kw * 1000.0 / (NOMINAL_VOLTAGE_V * phases), 1)


def tx_profile_16(
    connector_id: int, transaction_id: int, profile_id: int, limit: float, unit: str, phases: int
) -> dict[str, Any]:
    """A SetChargingProfile payload (OCPP 1.6) capping one transaction from now on."""
    period: dict[str, Any] = {"startPeriod": 0, "limit": limit}
    if unit == "A":
        period["numberPhases"] = phases
    return {
        "connectorId": connector_id,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "transactionId": transaction_id,
            "stackLevel": TX_PROFILE_STACK_LEVEL,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": [period]},
        },
    }


def tx_profile_201(
    evse_id: int, transaction_id: str, profile_id: int, limit: float, unit: str, phases: int
) -> dict[str, Any]:
    """A SetChargingProfile payload (OCPP 2.0.1) capping one transaction from now on."""
    period: dict[str, Any] = {"startPeriod": 0, "limit": limit}
    if unit == "A":
        period["numberPhases"] = phases
    return {
        "evseId": evse_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": TX_PROFILE_STACK_LEVEL,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": transaction_id,
            "chargingSchedule": [
                {"id": profile_id, "chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
            ],
        },
    }


def tx_profile_21(
    evse_id: int, transaction_id: str, profile_id: int, limit: float, unit: str, phases: int
) -> dict[str, Any]:
    """A SetChargingProfile payload (OCPP 2.1) for one transaction from now on: a charging
    limit as 2.0.1's, or, for a negative `limit` (vehicle-to-grid), a central setpoint to
    discharge at that rate and no charging."""
    if limit >= 0:
        return tx_profile_201(evse_id, transaction_id, profile_id, limit, unit, phases)
    payload = tx_profile_201(evse_id, transaction_id, profile_id, 0.0, unit, phases)
    period = payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    period |= {"operationMode": "CentralSetpoint", "setpoint": limit, "dischargeLimit": limit}
    return payload


def profile_limit_kw(payload: dict[str, Any], voltage: float = NOMINAL_VOLTAGE_V) -> float:
    """The first-period limit of a 1.6 or 2.0.1 SetChargingProfile payload, in kW."""
    profile = payload.get("csChargingProfiles") or payload["chargingProfile"]
    schedule = profile["chargingSchedule"]
    if isinstance(schedule, list):
        schedule = schedule[0]
    period = schedule["chargingSchedulePeriod"][0]
    # the ocpp package hands 1.6 limits over as Decimal; a 2.1 setpoint (< 0: discharging)
    # is what the EV follows
    limit = float(period.get("setpoint", period["limit"]))
    if schedule["chargingRateUnit"] == "W":
        return limit / 1000.0
    return limit * voltage * period.get("numberPhases", 3) / 1000.0


def composite_schedule_request(
    protocol: str, connector_id: int, unit: str, duration_s: int = 900
) -> dict[str, Any]:
    """A GetCompositeSchedule payload asking what limit is in force on a connector/EVSE."""
    if protocol == "ocpp1.6":
        return {"connectorId": connector_id, "duration": duration_s, "chargingRateUnit": unit}
    return {"evseId": connector_id, "duration": duration_s, "chargingRateUnit": unit}  # 2.x


def composite_limit(reply: dict[str, Any], unit: str, phases: int) -> float | None:
    """The first-period limit of a GetCompositeSchedule reply (1.6 or 2.0.1) in `unit`, or
    None when the charger gave none. A reply in the other unit is converted at the nominal
    voltage."""
    schedule = reply.get("chargingSchedule") or reply.get("schedule")
    if reply.get("status") != "Accepted" or not schedule:
        return None
    periods = schedule.get("chargingSchedulePeriod") or []
    if not periods:
        return None
    period = periods[0]
    limit = float(period.get("setpoint", period.get("limit", 0.0)))  # 2.1: a setpoint
    if schedule.get("chargingRateUnit", unit) == unit:
        return limit
    phases = period.get("numberPhases", phases)
    kw = limit / 1000.0 if unit == "A" else limit * NOMINAL_VOLTAGE_V * phases / 1000.0
    return rate_limit(kw, unit, phases)
