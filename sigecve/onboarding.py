"""Onboarding a station nobody registered: its boot answer, and the configuration templates
it gets when an operator approves it (pure).

A station admitted by the policy boots as Pending (or Rejected) and waits in the approval
queue. Approved, its next boot is still answered Pending, and the CSMS then reads its device
model, sets the variables of its templates, and accepts it (it is asked to boot once more).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from sigecve.device_model import split_key

UnknownStations = Literal["refuse", "pending", "rejected"]
RegistrationStatus = Literal["Accepted", "Pending", "Rejected"]
# A Pending or Rejected station boots again after this long (its BootNotification interval).
RETRY_BOOT_S = 60
NAME_PATTERN = r"^[A-Za-z0-9._:\- ]{1,100}$"


class OnboardingPolicy(BaseModel):
    unknown_stations: UnknownStations = Field(
        description="refuse: HTTP 401 (the default); pending: admitted, booted as Pending and "
        "queued for approval; rejected: admitted, booted as Rejected (no commands until "
        "approved) and queued. SIGECVE_AUTO_REGISTER=true accepts them instead."
    )


class TemplateVariable(BaseModel):
    key: str = Field(
        min_length=1,
        max_length=200,
        examples=["OCPPCommCtrlr.HeartbeatInterval"],
        description="`Component.Variable` (2.0.1, 2.1) or a 1.6 configuration key",
    )
    value: str = Field(max_length=1000, examples=["300"])

    @field_validator("key")
    @classmethod
    def _named(cls, key: str) -> str:
        component, variable = split_key(key)
        if "." in key and not (component and variable):
            raise ValueError("name a 2.x variable as Component.Variable, both parts")
        return key


class NewConfigurationTemplate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, examples=["acme-dc150"])
    vendor: str | None = Field(default=None, max_length=50, description="null: any vendor")
    model: str | None = Field(default=None, max_length=50, description="null: any model")
    site_id: str | None = Field(default=None, max_length=64, description="null: any site")
    variables: list[TemplateVariable] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _each_key_once(self) -> NewConfigurationTemplate:
        keys = [v.key for v in self.variables]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"variables: each key once ({', '.join(twice)} repeated)")
        return self


class ConfigurationTemplate(NewConfigurationTemplate):
    id: int
    created_at: datetime
    updated_at: datetime


def applies_to(
    template: NewConfigurationTemplate, vendor: str | None, model: str | None, site_id: str | None
) -> bool:
    return all(
        wanted is None or wanted == have
        for wanted, have in (
            (template.vendor, vendor),
            (template.model, model),
            (template.site_id, site_id),
        )
    )


def configuration_for(
    templates: list[ConfigurationTemplate],
    vendor: str | None,
    model: str | None,
    site_id: str | None,
) -> dict[str, tuple[str, str]]:
    """key -> (value, template name): every template that applies, the most specific last so
    that its values win (a site's template over a model's, a model's over a vendor's)."""
    matching = [t for t in templates if applies_to(t, vendor, model, site_id)]
    matching.sort(
        key=lambda t: (t.site_id is not None, t.model is not None, t.vendor is not None, t.id)
    )
    out: dict[str, tuple[str, str]] = {}
    for template in matching:
        for variable in template.variables:
            out[variable.key] = (variable.value, template.name)
    return out


def boot_answer(status: str, approved: bool) -> tuple[RegistrationStatus, bool]:
    """(the BootNotification status, whether to onboard it now) for a station's registration
    status and whether an operator approved it."""
    if status == "Accepted":
        return "Accepted", False
    if approved:
        return "Pending", True  # Pending lets the CSMS configure it before accepting it
    return ("Rejected" if status == "Rejected" else "Pending"), False
