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

    @model_validator(mode="after")
    def _window(self) -> SessionSpec:
        if self.departure_slot <= self.arrival_slot:
            raise ValueError(
                f"departure_slot ({self.departure_slot}) must be after arrival_slot "
                f"({self.arrival_slot})"
            )
        return self


class Scenario(BaseModel):
    """One site over a horizon of equal slots. Validation errors name the offending field."""

    model_config = ConfigDict(extra="ignore")

    name: str
    start: datetime | None = None
    slot_minutes: float = Field(gt=0)
    horizon_slots: int = Field(ge=1)
    site: Site
    prices: list[float]
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

    def site_limit(self, slot: int) -> float:
        by_slot = self.site.max_power_kw_by_slot
        return min(self.site.max_power_kw, by_slot[slot]) if by_slot else self.site.max_power_kw


class PlannedSession(BaseModel):
    id: str
    power_kw: list[float]
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


class Plan(BaseModel):
    scenario: str
    solver_seconds: float
    sessions: list[PlannedSession]
    summary: PlanSummary
