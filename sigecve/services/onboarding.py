"""Onboarding as operators run it: the policy for stations nobody registered, the approval
queue, configuration templates, and the configuring of an approved station."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import psycopg.errors
from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.onboarding import (
    ConfigurationTemplate,
    NewConfigurationTemplate,
    OnboardingPolicy,
    configuration_for,
)
from sigecve.services import parameters
from sigecve.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from sigecve.services.remote_commands import Commander, ConfigurationChange, TriggerRequest

log = logging.getLogger(__name__)

# How long configuring waits for a 2.x station's device model report to arrive in full.
REPORT_WAIT_S = 30.0


class PendingChargePoint(BaseModel):
    id: str
    registration_status: str = Field(description="Pending or Rejected")
    approved_at: datetime | None = Field(
        description="set once approved: it is being (or will be, at its next boot) configured"
    )
    registered_at: datetime
    connected: bool
    site_id: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    booted_at: datetime | None
    boot_info: dict[str, Any] | None = Field(description="its BootNotification, as it sent it")


class OnboardingResult(BaseModel):
    key: str
    value: str
    template: str
    status: str = Field(
        description="the charger's answer (Accepted, Rejected, RebootRequired, "
        "UnknownVariable, ...), Refused when the stored device model ruled it out before "
        "sending, NoReply when it did not answer"
    )
    reason: str | None
    applied_at: datetime


class OnboardingState(BaseModel):
    charge_point_id: str
    registration_status: str
    approved_at: datetime | None
    results: list[OnboardingResult] = Field(description="what it did with each template value")


class Approval(BaseModel):
    site_id: parameters.SiteId | None = Field(default=None, description="assign it a site")


async def get_policy(repos: Repositories) -> OnboardingPolicy:
    return OnboardingPolicy(unknown_stations=await repos.onboarding.policy())


async def set_policy(repos: Repositories, policy: OnboardingPolicy) -> OnboardingPolicy:
    await repos.onboarding.set_policy(policy.unknown_stations)
    return await get_policy(repos)


async def approval_queue(repos: Repositories) -> list[PendingChargePoint]:
    return [PendingChargePoint.model_validate(r) for r in await repos.onboarding.queue()]


async def onboarding_state(repos: Repositories, charge_point_id: str) -> OnboardingState:
    row = await repos.charge_points.get_row(charge_point_id)
    if row is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    return OnboardingState(
        charge_point_id=charge_point_id,
        registration_status=row["registration_status"],
        approved_at=row["approved_at"],
        results=[
            OnboardingResult.model_validate(r)
            for r in await repos.onboarding.results(charge_point_id)
        ],
    )


async def approve(
    repos: Repositories, commander: Commander, charge_point_id: str, approval: Approval
) -> OnboardingState:
    """Approve a waiting station: it is configured and accepted at its next boot, which it
    is asked for now if it is connected (else it boots when it connects)."""
    row = await repos.charge_points.get_row(charge_point_id)
    if row is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    if row["registration_status"] == "Accepted":
        raise Conflict(f"charge point {charge_point_id!r} is already accepted")
    if approval.site_id is not None and await repos.sites.get(approval.site_id) is None:
        raise NotFound(f"no site {approval.site_id!r}")
    await repos.onboarding.approve(charge_point_id, approval.site_id)
    if row["registration_status"] == "Pending":
        # A Rejected one may be sent nothing (B03.FR.07): it boots again after its interval.
        await _ask_to_boot(commander, charge_point_id)
    return await onboarding_state(repos, charge_point_id)


async def reject(repos: Repositories, charge_point_id: str) -> OnboardingState:
    """Keep a waiting station out: its boots are answered Rejected (it stays in the queue,
    where it can still be approved; decommission it to refuse its connections too)."""
    if not await repos.onboarding.reject(charge_point_id):
        await onboarding_state(repos, charge_point_id)  # NotFound if there is none
        raise Conflict(f"charge point {charge_point_id!r} is already accepted")
    return await onboarding_state(repos, charge_point_id)


async def _ask_to_boot(commander: Commander, charge_point_id: str) -> None:
    try:
        await commander.trigger(charge_point_id, TriggerRequest(message="BootNotification"))
    except ServiceError as e:  # offline or silent: it boots on its own, after its interval
        log.info("%s not asked to boot now: %s", charge_point_id, e)


async def onboard_approved_station(
    repos: Repositories, commander: Commander, charge_point_id: str
) -> None:
    """Read an approved station's device model, set its templates' values (each checked
    against that model first, each answer recorded), accept it and ask it to boot again."""
    row = await repos.charge_points.get_row(charge_point_id)
    if row is None or row["registration_status"] == "Accepted":
        return
    try:
        requested = await commander.request_device_model_report(charge_point_id)
        await _report_in(repos, charge_point_id, requested.request_id)
    except ServiceError as e:
        log.warning("%s: no device model report (%s); configuring unchecked", charge_point_id, e)
    templates = await repos.onboarding.templates()
    wanted = configuration_for(templates, row["vendor"], row["model"], row["site_id"])
    for key, (value, template) in wanted.items():
        reason = None
        try:
            result = await commander.change_configuration(
                charge_point_id, ConfigurationChange(key=key, value=value)
            )
            status = result.status
            if status == "CallError":
                reason = (
                    f"{result.response.get('errorCode')}: {result.response.get('errorDescription')}"
                )
        except InvalidInput as e:
            status, reason = "Refused", str(e)
        except ServiceError as e:
            status, reason = "NoReply", str(e)
        await repos.onboarding.record_result(charge_point_id, key, value, template, status, reason)
    await repos.onboarding.accept(charge_point_id)
    await _ask_to_boot(commander, charge_point_id)


async def _report_in(repos: Repositories, charge_point_id: str, request_id: int) -> None:
    """Wait (bounded) until the report's parts have all come: NotifyReport parts arrive on
    the station's own connection, after the GetBaseReport reply."""
    deadline = time.monotonic() + REPORT_WAIT_S
    while time.monotonic() < deadline:
        for report in await repos.device_model.reports_of(charge_point_id):
            if report["request_id"] == request_id and report["completed_at"] is not None:
                return
        await asyncio.sleep(0.25)
    log.warning("%s: report %d incomplete after %.0f s", charge_point_id, request_id, REPORT_WAIT_S)


async def list_templates(repos: Repositories) -> list[ConfigurationTemplate]:
    return await repos.onboarding.templates()


async def get_template(repos: Repositories, template_id: int) -> ConfigurationTemplate:
    found = await repos.onboarding.template(template_id)
    if found is None:
        raise NotFound(f"no configuration template {template_id}")
    return found


async def _check_template(repos: Repositories, t: NewConfigurationTemplate) -> None:
    if t.site_id is not None and await repos.sites.get(t.site_id) is None:
        raise NotFound(f"no site {t.site_id!r}")
    if t.model is None:
        return  # for any model: what each has is known only when it is applied
    lacking = await repos.onboarding.models_lacking(t.vendor, t.model, [v.key for v in t.variables])
    if lacking:
        charger, keys = next(iter(lacking.items()))
        raise InvalidInput(
            f"the {t.vendor or ''} {t.model} device model has no {', '.join(keys)} "
            f"(as {charger} reported it)".replace("  ", " ")
        )


async def create_template(
    repos: Repositories, t: NewConfigurationTemplate
) -> ConfigurationTemplate:
    await _check_template(repos, t)
    created = await repos.onboarding.insert_template(t)
    if created is None:
        raise Conflict(f"a configuration template is already named {t.name!r}")
    return created


async def replace_template(
    repos: Repositories, template_id: int, t: NewConfigurationTemplate
) -> ConfigurationTemplate:
    await get_template(repos, template_id)
    await _check_template(repos, t)
    try:
        replaced = await repos.onboarding.replace_template(template_id, t)
    except psycopg.errors.UniqueViolation as e:  # the name is another template's
        raise Conflict(f"a configuration template is already named {t.name!r}") from e
    if replaced is None:
        raise NotFound(f"no configuration template {template_id}")
    return replaced


async def delete_template(repos: Repositories, template_id: int) -> None:
    if not await repos.onboarding.delete_template(template_id):
        raise NotFound(f"no configuration template {template_id}")
