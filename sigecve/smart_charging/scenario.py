"""The smart-charging scenario and plan: the formats of the scenario and plan JSON schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Site(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    max_power_kw: float = Field(ge=0, description="site limit in every slot")
    max_power_kw_by_slot: list[float] | None = Field(
        default=None, description="per-slot limit; the tighter of the two applies"
    )
    max_export_kw: float = Field(
        default=0.0,
        ge=0,
        description="what the site may feed back to the grid (vehicle-to-grid); 0: nothing, "
        "discharged energy only serves other EVs of the site",
    )

    @model_validator(mode="after")
    def _limits_are_non_negative(self) -> Site:
        if self.max_power_kw_by_slot is not None:
            for i, v in enumerate(self.max_power_kw_by_slot):
                if v < 0:
                    raise ValueError(f"max_power_kw_by_slot[{i}] must be >= 0, got {v}")
        return self


class ChargePointSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    max_power_kw: float = Field(ge=0)
    phases: int | None = Field(default=None, description="1 or 3")

    @model_validator(mode="after")
    def _phases(self) -> ChargePointSpec:
        if self.phases not in (None, 1, 3):
            raise ValueError(f"phases must be 1 or 3, got {self.phases}")
        return self


class SessionSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    charge_point_id: str
    arrival_slot: int = Field(ge=0, description="first slot the EV can charge in")
    departure_slot: int = Field(ge=1, description="first slot the EV is gone")
    energy_kwh: float = Field(ge=0, description="energy the driver asked for")
    max_power_kw: float = Field(ge=0, description="the EV's own limit")
    min_power_kw: float | None = Field(
        default=None, ge=0, description="when charging at all in a slot, at least this much"
    )
    priority: float = Field(
        default=1.0,
        ge=1,
        le=10,
        description="when energy is short, a kWh to this session is worth `priority` kWh of "
        "a priority-1 session (an extension of the shared format; absent: 1)",
    )
    # Vehicle-to-grid (extensions; absent: the EV only charges). Energies are relative to the
    # battery at arrival, as OCPP 2.1's V2X charging parameters give them.
    max_discharge_kw: float = Field(
        default=0.0, ge=0, description="what the EV may give back (bidirectional); 0: none"
    )
    v2x_min_kwh: float = Field(
        default=0.0,
        le=0,
        description="the lowest the battery may go, relative to its charge at arrival (<= 0: "
        "how much of that charge it may give; OCPP 2.1 evMinV2XEnergyRequest)",
    )
    max_energy_kwh: float | None = Field(
        default=None,
        ge=0,
        description="the most the battery may take over its charge at arrival (OCPP 2.1 "
        "evMaxEnergyRequest); absent: energy_kwh",
    )

    @model_validator(mode="after")
    def _window(self) -> SessionSpec:
        if self.departure_slot <= self.arrival_slot:
            raise ValueError(
                f"departure_slot ({self.departure_slot}) must be after arrival_slot "
                f"({self.arrival_slot})"
            )
        if self.max_discharge_kw > 0 and self.min_power_kw:
            raise ValueError(
                "min_power_kw cannot be combined with max_discharge_kw: a bidirectional "
                "session's power is continuous"
            )
        return self

    @property
    def bidirectional(self) -> bool:
        return self.max_discharge_kw > 0

    @property
    def headroom_kwh(self) -> float:
        """The most the battery may hold over its charge at arrival, at any time."""
        return self.energy_kwh if self.max_energy_kwh is None else self.max_energy_kwh


class Scenario(BaseModel):
    """One site over a horizon of equal slots. Validation errors name the offending field."""

    model_config = ConfigDict(extra="ignore")

    name: str
    start: datetime | None = None
    slot_minutes: float = Field(gt=0)
    horizon_slots: int = Field(ge=1)
    site: Site
    prices: list[float]
    export_prices: list[float] | None = Field(
        default=None,
        description="what a kWh fed back to the grid earns in each slot (vehicle-to-grid); "
        "absent: 0; never more than the import price of the slot",
    )
    battery_wear_cost_per_kwh: float = Field(
        default=0.0, ge=0, description="the cost of a kWh discharged from an EV battery"
    )
    charge_points: list[ChargePointSpec]
    sessions: list[SessionSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if len(self.prices) != self.horizon_slots:
            raise ValueError(
                f"prices has {len(self.prices)} entries; horizon_slots is {self.horizon_slots}"
            )
        by_slot = self.site.max_power_kw_by_slot
        if by_slot is not None and len(by_slot) != self.horizon_slots:
            raise ValueError(
                f"site.max_power_kw_by_slot has {len(by_slot)} entries; horizon_slots is "
                f"{self.horizon_slots}"
            )
        if self.export_prices is not None:
            if len(self.export_prices) != self.horizon_slots:
                raise ValueError(
                    f"export_prices has {len(self.export_prices)} entries; horizon_slots is "
                    f"{self.horizon_slots}"
                )
            for t, (sell, buy) in enumerate(zip(self.export_prices, self.prices, strict=True)):
                if sell > buy:
                    # Else buying and selling the same kWh at once would pay.
                    raise ValueError(
                        f"export_prices[{t}] ({sell}) must not exceed prices[{t}] ({buy})"
                    )
        cp_ids = [cp.id for cp in self.charge_points]
        if len(set(cp_ids)) != len(cp_ids):
            raise ValueError("charge_points: ids must be unique")
        session_ids = [s.id for s in self.sessions]
        if len(set(session_ids)) != len(session_ids):
            raise ValueError("sessions: ids must be unique")
        known = set(cp_ids)
        for i, s in enumerate(self.sessions):
            if s.charge_point_id not in known:
                raise ValueError(
                    f"sessions[{i}].charge_point_id: {s.charge_point_id!r} is not in charge_points"
                )
        return self

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60.0

    @property
    def bidirectional(self) -> bool:
        """Whether any session may discharge: then the planner is `v2g`'s LP."""
        return any(x.bidirectional for x in self.sessions)

    def export_price(self, slot: int) -> float:
        return self.export_prices[slot] if self.export_prices else 0.0

    def site_limit(self, slot: int) -> float:
        by_slot = self.site.max_power_kw_by_slot
        return min(self.site.max_power_kw, by_slot[slot]) if by_slot else self.site.max_power_kw


class PlannedSession(BaseModel):
    id: str
    power_kw: list[float] = Field(description="charging power per slot (>= 0)")
    discharge_kw: list[float] | None = Field(
        default=None,
        description="vehicle-to-grid: power given back per slot (>= 0); absent when none",
    )
    energy_kwh: float | None = Field(default=None, description="what the plan delivers")
    shortfall_kwh: float | None = Field(
        default=None, description="what it asked for and does not get; 0 when served"
    )
    shortfall_reason: str | None = Field(
        default=None,
        description="why it gets less (sigecve/smart_charging/shortfall.py); absent when served",
    )


class PlanSummary(BaseModel):
    energy_kwh: float
    cost: float
    peak_kw: float
    requested_kwh: float
    status: str = Field(description="optimal, or fallback_equal_share when the solver failed")
    shortfalls: dict[str, int] = Field(
        default_factory=dict, description="sessions that get less than asked, by reason"
    )
    # Vehicle-to-grid plans only: cost is then what is imported, less what exports earn,
    # plus battery wear.
    discharged_kwh: float | None = None
    exported_kwh: float | None = None
    export_revenue: float | None = None
    wear_cost: float | None = None


class Plan(BaseModel):
    scenario: str
    solver_seconds: float
    sessions: list[PlannedSession]
    summary: PlanSummary
