"""Domain models shared by the service layer, REST and (later) MCP: the CSMS's own words."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, Strict, WithJsonSchema

from sigecve.smart_charging.departures import DeparturePrediction
from sigecve.variable_monitoring import MonitoringEvent

# Numbers and flags in request bodies are taken as JSON gives them: pydantic's lax mode would
# also take true for 1.0 and "1" for 1. A whole number is still a valid Number.
Number = Annotated[float, Strict()]
Integer = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]


def _one_or_three(phases: int) -> int:
    if phases not in (1, 3):
        raise ValueError("1 or 3")
    return phases


# Strict as Integer (a Literal would take true for 1), and the schema says which two.
Phases = Annotated[
    Integer, AfterValidator(_one_or_three), WithJsonSchema({"type": "integer", "enum": [1, 3]})
]

SITE_MAX_POWER_KW = 100_000  # a grid connection's limit: a large depot is a few MW


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**constraints: Any) -> Any:
    """A field of an update that may be left out (it keeps its value) but not set to null:
    the OpenAPI schema says so, and pydantic refuses null before a service sees it."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


class IdTagStatus(StrEnum):
    accepted = "Accepted"
    blocked = "Blocked"
    expired = "Expired"
    invalid = "Invalid"


class IdTag(BaseModel):
    id_tag: str = Field(
        min_length=1,
        max_length=36,
        examples=["TAG1"],
        description="RFID uid or other token (1.6 chargers take at most 20 characters)",
    )
    status: IdTagStatus = IdTagStatus.accepted
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, min_length=1, max_length=36)
    owner: str | None = Field(
        default=None, max_length=200, description="who holds the tag (driver, fleet, company)"
    )


class IdTagUpdate(BaseModel):
    """Fields to change on an id tag; absent fields keep their value, null clears them."""

    status: IdTagStatus = omittable(examples=["Blocked"])
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, min_length=1, max_length=36)
    owner: str | None = Field(default=None, max_length=200)


class ConnectorStatus(BaseModel):
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime


class ConnectorProblem(BaseModel):
    """An error code on a connector (`NoError`: over), its status left as it is."""

    connector_id: int
    error_code: str
    info: str | None = None
    vendor_error_code: str | None = None
    at: datetime


class Transaction(BaseModel):
    id: int = Field(description="SIGEC-VE's own id of the transaction")
    transaction_id: int | str = Field(
        description="the id as the charger knows it: a number in OCPP 1.6, a string in 2.0.1"
    )
    protocol: str
    charge_point_id: str
    connector_id: int = Field(description="the connector (1.6) or EVSE (2.0.1)")
    id_tag: str | None
    started_at: datetime
    stopped_at: datetime | None = None
    meter_start_wh: int
    meter_stop_wh: int | None = None
    energy_wh: int | None = Field(
        default=None, description="meter_stop_wh - meter_start_wh, or the last reading so far"
    )
    stop_reason: str | None = None
    offline: bool = Field(
        default=False,
        description="some of its events were queued by the charger while offline and sent "
        "later (2.x): its times are the charger's",
    )


class ChargePointSummary(BaseModel):
    id: str
    site_id: str | None = None
    connected: bool
    ocpp_protocol: str | None = None
    last_seen_at: datetime | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    max_power_kw: float = Field(description="what the charger can deliver in all")
    phases: int
    charging_rate_unit: str = Field(description="W or A: how charging profiles are expressed")
    registered_at: datetime
    decommissioned_at: datetime | None = None
    connectors: list[ConnectorStatus] = []


class ChargePoint(ChargePointSummary):
    serial_number: str | None = None
    boot_info: dict | None = Field(
        default=None, description="the last BootNotification payload, as the charger sent it"
    )
    booted_at: datetime | None = None
    last_connected_at: datetime | None = None
    last_disconnected_at: datetime | None = None
    active_transactions: list[Transaction] = []


class MeterSample(BaseModel):
    """One sampled value of a MeterValues (or StopTransaction transactionData) message."""

    connector_id: int
    transaction_id: int | None = None
    timestamp: datetime
    measurand: str = "Energy.Active.Import.Register"
    value: float
    unit: str | None = None
    phase: str | None = None
    context: str | None = None
    location: str | None = None


class SignedMeterValue(BaseModel):
    """A meter reading as the meter signed it (1.6 SignedData, 2.x signedMeterValue)."""

    connector_id: int
    transaction_id: int | None = Field(default=None, description="SIGEC-VE's id")
    timestamp: datetime
    measurand: str = "Energy.Active.Import.Register"
    context: str | None = None
    signed_data: str = Field(description="as the charger sent it (e.g. an OCMF string)")
    signing_method: str | None = None
    encoding_method: str | None = None
    public_key: str | None = None


class DisplayMessage(BaseModel):
    """A message on a 2.x station's display, as set or as the station reported it."""

    # As the station has them: 2.1 adds formats (QRCODE) and states (Suspended, ...).
    charge_point_id: str
    id: int
    priority: str = "NormalCycle"
    state: str | None = Field(default=None, description="shown only in this station state")
    format: str = "UTF8"
    language: str | None = Field(default=None, description="RFC 5646")
    content: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    transaction_id: str | None = Field(default=None, max_length=36)
    status: str = Field(
        default="Reported",
        description="the station's answer to setting it (Accepted, Rejected, "
        "NotSupportedPriority, ...), or Reported when it came in NotifyDisplayMessages",
    )


class Command(BaseModel):
    """A CSMS-initiated OCPP call, given as the action name and its JSON payload."""

    action: str = Field(min_length=1, max_length=64, examples=["Reset"])
    payload: dict = Field(default_factory=dict, examples=[{"type": "Soft"}])


class CommandResult(BaseModel):
    action: str
    status: str = Field(
        description="the `status` of the charger's reply when it has one (e.g. Accepted), "
        "`Replied` when the reply has none, `CallError` when the charger answered with an error"
    )
    response: dict = Field(description="the charger's reply payload, or the CALLERROR's parts")


class PriceStep(BaseModel):
    starts_at: datetime
    price_per_kwh: Number


class LimitStep(BaseModel):
    starts_at: datetime
    max_power_kw: Number = Field(ge=0)


class Site(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9._:\-]{1,48}$", examples=["porto-3"])
    name: str | None = Field(default=None, max_length=200)
    max_power_kw: Number = Field(
        ge=0, le=SITE_MAX_POWER_KW, description="the grid connection's limit", examples=[80]
    )
    price_per_kwh: Number = Field(default=0.25, description="flat energy price (tariff)")
    smart_charging: Flag = Field(
        default=True, description="whether the grid scheduler sends charging profiles"
    )
    max_export_kw: Number = Field(
        default=0.0,
        ge=0,
        le=SITE_MAX_POWER_KW,
        description="vehicle-to-grid: what the site may feed back to the grid (0: what EVs "
        "give serves the site's other EVs only)",
    )
    export_price_per_kwh: Number = Field(
        default=0.0,
        ge=0,
        description="vehicle-to-grid: what a kWh fed back earns (at most the price in force)",
    )
    battery_wear_cost_per_kwh: Number = Field(
        default=0.05,
        ge=0,
        description="vehicle-to-grid: what a kWh discharged from an EV costs its battery; EVs "
        "give energy only for more than that",
    )
    price_schedule: list[PriceStep] = Field(
        default_factory=list, description="price signal: each step holds until the next"
    )
    limit_schedule: list[LimitStep] = Field(
        default_factory=list,
        description="limit steps, each holding until the next; they cap below max_power_kw",
    )


class PriceSchedule(BaseModel):
    steps: list[PriceStep] = Field(max_length=10_000)


class LimitSchedule(BaseModel):
    steps: list[LimitStep] = Field(max_length=10_000)


class SiteLimit(BaseModel):
    max_power_kw: Number = Field(ge=0, le=SITE_MAX_POWER_KW, examples=[80])


class PlannedPower(BaseModel):
    charge_point_id: str
    transaction_id: int | str
    power_kw: float = Field(description="< 0: the EV gives energy back (vehicle-to-grid, 2.1)")
    limit: float = Field(description="in `unit`; < 0: a 2.1 discharge setpoint")
    unit: str
    status: str = Field(description="the charger's reply to SetChargingProfile, or the error")
    limit_in_force: float | None = Field(
        default=None,
        description="the limit the charger reports in force now (GetCompositeSchedule), in "
        "`unit`; null when it did not say",
    )
    verified: bool = Field(
        default=False, description="the charger's composite schedule matches the plan"
    )
    reason: str = Field(
        default="", description="why this power, in plain words from the plan's numbers"
    )
    departure_at: str | None = Field(
        default=None, description="the departure the session is planned with"
    )
    departure_guess: DeparturePrediction | None = Field(
        default=None,
        description="how that departure was guessed from history; null when the driver or "
        "the EV said it",
    )


class SessionDefaults(BaseModel):
    """What the planner assumes of a session whose EV and driver said nothing."""

    target_energy_kwh: float
    dwell_minutes: float
    source: str = Field(description="site history (median of recent sessions) or default")
    sessions_seen: int = 0


class SitePlan(BaseModel):
    site_id: str
    planned_at: str | None = None
    site_limit_kw: float
    sessions: list[PlannedPower] = []
    solver: str = ""
    defaults: SessionDefaults | None = None
    expected_arrivals: int = Field(
        default=0, description="sessions forecast to arrive (yesterday's), kept room for"
    )


class LoadSample(BaseModel):
    at: datetime = Field(description="start of the 15-minute interval (UTC)")
    power_kw: float = Field(description="the site's chargers' mean sampled active power, summed")


class SiteLoad(BaseModel):
    site_id: str
    day: date
    site_limit_kw: float
    samples: list[LoadSample] = Field(description="intervals with at least one power sample")


class SessionDemand(BaseModel):
    """What a session needs: the planner charges toward it. Unset fields keep their value."""

    target_energy_kwh: Number | None = Field(default=None, ge=0, le=1000, examples=[40])
    departure_at: datetime | None = Field(default=None, examples=["2026-11-25T18:00:00Z"])
    ev_max_power_kw: Number | None = Field(default=None, ge=0, le=1000)
    priority: Integer | None = Field(
        default=None,
        ge=1,
        le=10,
        description="1 (normal) to 10: when power is short, a kWh to a session of priority 3 "
        "is worth three to one of priority 1",
        examples=[3],
    )
    charge_now: bool | None = Field(
        default=None,
        description="true: as much power as the site allows now, whatever the price, even when "
        "the departure would let it wait for cheaper hours; false: back to the cheapest plan",
    )


class V2XCapability(BaseModel):
    """What a bidirectional EV may give back, from OCPP 2.1's V2X charging parameters (energies
    relative to its battery at arrival, as the planner's scenario takes them)."""

    max_discharge_kw: float = Field(gt=0)
    v2x_min_kwh: float = Field(default=0.0, le=0)
    max_energy_kwh: float | None = Field(default=None, ge=0)


class ChargePointUpdate(BaseModel):
    """Fields to change on a charge point; absent fields keep their value."""

    site_id: str | None = Field(default=None, max_length=64, description="null: no site")
    max_power_kw: Number = omittable(gt=0, le=1000)
    phases: Phases = omittable()
    charging_rate_unit: Literal["W", "A"] = omittable()


class SiteUpdate(BaseModel):
    """Fields to change on a site; absent fields keep their value."""

    name: str = omittable(max_length=200)
    max_power_kw: Number = omittable(ge=0, le=SITE_MAX_POWER_KW)
    price_per_kwh: Number = omittable(ge=0)
    smart_charging: Flag = omittable()
    max_export_kw: Number = omittable(ge=0, le=SITE_MAX_POWER_KW)
    export_price_per_kwh: Number = omittable(ge=0)
    battery_wear_cost_per_kwh: Number = omittable(ge=0)


class Reservation(BaseModel):
    id: int = Field(description="the reservation id the charger was given")
    charge_point_id: str
    connector_id: int = Field(description="connector (1.6) or EVSE (2.0.1); 0: any")
    id_tag: str
    expires_at: datetime
    status: str = Field(
        description="the charger's reply (Accepted, Occupied, ...); then Used (a session "
        "started on it), Expired (its time ran out unused), Removed (the charger ended it) "
        "or Cancelled"
    )
    created_at: datetime
    cancelled_at: datetime | None = None
    used_at: datetime | None = None
    transaction_id: int | None = Field(
        default=None, description="SIGEC-VE's id of the session that used it"
    )


class ChargingProfileRecord(BaseModel):
    """A charging profile an operator sent, with the charger's reply."""

    id: int
    charge_point_id: str
    connector_id: int
    profile_id: int = Field(description="the chargingProfileId / id inside the profile")
    profile: dict
    status: str
    created_at: datetime
    cleared_at: datetime | None = None


class Signal(BaseModel):
    name: str
    value: float
    contribution: float = Field(description="how much it raised the risk (model units)")


class FailureModelInfo(BaseModel):
    """The failure model in service: what it reads, how far ahead, and how it was evaluated."""

    version: str
    deployed_at: datetime
    trained_at: str | None = None
    features: list[str]
    horizon_hours: float
    threshold: float = Field(description="risk at and above which an alert is raised")
    metrics: dict[str, Any] = Field(
        description="its evaluation on held-out later months (docs/ml.md)"
    )


class Alert(BaseModel):
    """An alert on a charge point: a failure predicted (a risk within a horizon, from the
    failure model) or a problem its station reported (a monitoring event); cleared on repair,
    by an operator, or (monitoring) when the station reports the problem over."""

    id: int
    charge_point_id: str
    source: Literal["failure_prediction", "monitoring"] = "failure_prediction"
    raised_at: datetime
    cleared_at: datetime | None = None
    risk: float | None = Field(
        default=None, ge=0, le=1, description="probability of a failure within the horizon"
    )
    horizon_hours: float | None = None
    failure_mode: str | None = None
    signals: list[Signal] = []
    model_version: str | None = None
    event: MonitoringEvent | None = Field(
        default=None, description="monitoring: the station's event (the latest, if repeated)"
    )


class AuditEntry(BaseModel):
    id: int
    at: datetime
    token_id: int | None
    token_name: str | None
    role: str | None
    interface: str = Field(description="rest or mcp")
    method: str
    target: str
    status: int
    details: dict | None = None


class ApiTokenInfo(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


class Principal(BaseModel):
    """Who is calling: the API token's id, name and role."""

    token_id: int
    name: str
    role: str


class FailureMode(StrEnum):
    connector = "connector"
    reader = "reader"
    communication = "communication"
    power_electronics = "power_electronics"
    ground_fault = "ground_fault"
    meter = "meter"
    other = "other"


class WorkOrder(BaseModel):
    """A failure and its repair: what failure prediction learns from."""

    id: int
    charge_point_id: str
    failed_at: datetime
    restored_at: datetime | None = Field(default=None, description="null: still down")
    failure_mode: FailureMode | None = None
    notes: str | None = None


class NewWorkOrder(BaseModel):
    failure_mode: FailureMode = Field(examples=["connector"])
    failed_at: datetime | None = Field(default=None, description="default: now")
    notes: str | None = Field(default=None, max_length=2000)


class Repair(BaseModel):
    restored_at: datetime | None = Field(default=None, description="default: now")
    notes: str | None = Field(default=None, max_length=2000)
