"""Turning OCPP MeterValue structures into normalised samples (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sigecve.domain import MeterSample, SignedMeterValue
from sigecve.ocpp.timestamps import parse_timestamp

ENERGY_REGISTER = "Energy.Active.Import.Register"
ACTIVE_POWER = "Power.Active.Import"

# Stored units are the base units; kilo-units are scaled on the way in.
_SCALE = {
    "kWh": ("Wh", 1000.0),
    "kW": ("W", 1000.0),
    "kvar": ("var", 1000.0),
    "kvarh": ("varh", 1000.0),
    "kVA": ("VA", 1000.0),
}


def _sample(
    connector_id: int,
    transaction_id: int | None,
    at: datetime,
    sv: dict[str, Any],
    value: float,
    unit: str | None,
) -> MeterSample:
    measurand = sv.get("measurand") or ENERGY_REGISTER
    unit = unit or ("Wh" if measurand.startswith("Energy") else None)
    if unit in _SCALE:
        unit, factor = _SCALE[unit]
        value *= factor
    return MeterSample(
        connector_id=connector_id,
        transaction_id=transaction_id,
        timestamp=at,
        measurand=measurand,
        value=value,
        unit=unit,
        phase=sv.get("phase"),
        context=sv.get("context"),
        location=sv.get("location"),
    )


def samples_from_meter_values(
    connector_id: int, transaction_id: int | None, meter_value: Iterable[dict[str, Any]]
) -> list[MeterSample]:
    """Samples from a 1.6 `meterValue` list (keys in snake_case, as the ocpp router gives them).

    Values that are not numbers are skipped; SignedData ones are kept by `signed_values_16`.
    """
    samples: list[MeterSample] = []
    for mv in meter_value:
        at = parse_timestamp(mv["timestamp"])
        for sv in mv.get("sampled_value", []):
            if sv.get("format") == "SignedData":
                continue
            try:
                value = float(sv["value"])
            except (TypeError, ValueError):
                continue
            samples.append(_sample(connector_id, transaction_id, at, sv, value, sv.get("unit")))
    return samples


def samples_from_meter_values_201(
    evse_id: int, meter_value: Iterable[dict[str, Any]]
) -> list[MeterSample]:
    """Samples from a 2.0.1 `meterValue` list (snake_case keys): numeric values with a
    `unit_of_measure` of unit and power-of-ten multiplier."""
    samples: list[MeterSample] = []
    for mv in meter_value:
        at = parse_timestamp(mv["timestamp"])
        for sv in mv.get("sampled_value", []):
            unit_of_measure = sv.get("unit_of_measure") or {}
            value = float(sv["value"]) * 10 ** int(unit_of_measure.get("multiplier", 0))
            samples.append(_sample(evse_id, None, at, sv, value, unit_of_measure.get("unit")))
    return samples


def signed_values_16(
    connector_id: int, transaction_id: int | None, meter_value: Iterable[dict[str, Any]]
) -> list[SignedMeterValue]:
    """The signed readings of a 1.6 `meterValue` list: sampled values of format SignedData,
    whose value is the signed blob (the signing scheme is inside it, as OCMF has it)."""
    return [
        SignedMeterValue(
            connector_id=connector_id,
            transaction_id=transaction_id,
            timestamp=parse_timestamp(mv["timestamp"]),
            measurand=sv.get("measurand") or ENERGY_REGISTER,
            context=sv.get("context"),
            signed_data=str(sv["value"]),
        )
        for mv in meter_value
        for sv in mv.get("sampled_value", [])
        if sv.get("format") == "SignedData"
    ]


def signed_values_201(
    evse_id: int, meter_value: Iterable[dict[str, Any]]
) -> list[SignedMeterValue]:
    """The signed readings of a 2.0.1 / 2.1 `meterValue` list (`signed_meter_value`)."""
    out = []
    for mv in meter_value:
        for sv in mv.get("sampled_value", []):
            signed = sv.get("signed_meter_value")
            if not signed:
                continue
            out.append(
                SignedMeterValue(
                    connector_id=evse_id,
                    timestamp=parse_timestamp(mv["timestamp"]),
                    measurand=sv.get("measurand") or ENERGY_REGISTER,
                    context=sv.get("context"),
                    signed_data=signed["signed_meter_data"],
                    signing_method=signed.get("signing_method"),
                    encoding_method=signed.get("encoding_method"),
                    public_key=signed.get("public_key"),
                )
            )
    return out


def _newest_total(samples: Iterable[MeterSample], measurand: str) -> float | None:
    """The newest total (not per-phase) reading of `measurand`, in its base unit."""
    readings = [s for s in samples if s.measurand == measurand and s.phase is None]
    return max(readings, key=lambda s: s.timestamp).value if readings else None


def last_energy_register_wh(samples: Iterable[MeterSample]) -> float | None:
    """The newest total (not per-phase) energy register reading among `samples`, in Wh."""
    return _newest_total(samples, ENERGY_REGISTER)


def last_active_power_kw(samples: Iterable[MeterSample]) -> float | None:
    """The newest total (not per-phase) active power imported among `samples`, in kW
    (samples hold W: kW readings were scaled on the way in)."""
    watts = _newest_total(samples, ACTIVE_POWER)
    return None if watts is None else watts / 1000.0
