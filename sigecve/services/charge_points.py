"""Charge points: registration, admission of a connecting charger, and what operators see."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sigecve.db.repositories import ChargePointFilter, ChargePointRepository, Repositories
from sigecve.domain import ChargePoint, ChargePointSummary, ChargePointUpdate, Flag
from sigecve.onboarding import UnknownStations
from sigecve.security import VerifiedPasswords, hash_password, verify_password
from sigecve.services.errors import Conflict, NotFound
from sigecve.services.pagination import paginate
from sigecve.services.parameters import CHARGE_POINT_ID_PATTERN

# OCPP-J: the charge point identity is the last path segment; keep it to printable, URL-safe text.


class ChargePointRegistration(BaseModel):
    id: str = Field(pattern=CHARGE_POINT_ID_PATTERN, examples=["CP-1"])
    password: str | None = Field(
        default=None, min_length=8, max_length=64, description="HTTP Basic password (profile 1)"
    )
    site_id: str | None = Field(default=None, max_length=64)


class ChargePointPage(BaseModel):
    items: list[ChargePointSummary]
    next_cursor: str | None = None


class PasswordChange(BaseModel):
    password: str = Field(min_length=8, max_length=64, description="the new HTTP Basic password")
    push_to_charger: Flag = Field(
        default=False,
        description="first set it on the connected charger (1.6 AuthorizationKey, 2.0.1 "
        "SecurityCtrlr.BasicAuthPassword) and store it only if the charger accepts",
    )


@dataclass(frozen=True)
class AdmissionDecision:
    accepted: bool
    reason: str
    register: bool = False
    # What its BootNotification will be told until an operator approves it.
    registration_status: str = "Accepted"
    approved: bool = False


def decide_admission(
    registered: dict[str, Any] | None,
    password: str | None,
    *,
    auto_register: bool,
    unknown_stations: UnknownStations = "refuse",
    password_matches: Callable[[str, str], bool] = verify_password,
) -> AdmissionDecision:
    """Whether a charger presenting `password` may connect (no I/O; `password_matches(password,
    stored hash)` is scrypt unless given a memory of verified passwords). An unknown one is
    registered if `auto_register`, or admitted to wait for approval by the onboarding
    policy (`unknown_stations` pending or rejected)."""
    if registered is None:
        if auto_register:
            return AdmissionDecision(True, "auto-registered", register=True)
        if unknown_stations != "refuse":
            status = unknown_stations.capitalize()
            return AdmissionDecision(
                True, "waiting for approval", register=True, registration_status=status
            )
        return AdmissionDecision(False, "unknown charge point")
    if registered.get("decommissioned_at") is not None:
        return AdmissionDecision(False, "decommissioned")
    stored = registered.get("password_hash")
    if stored is None:
        return _admitted(registered, "registered without a password")
    if password is None:
        return AdmissionDecision(False, "password required")
    if not password_matches(password, stored):
        return AdmissionDecision(False, "wrong password")
    return _admitted(registered, "password verified")


def _admitted(registered: dict[str, Any], reason: str) -> AdmissionDecision:
    return AdmissionDecision(
        True,
        reason,
        registration_status=registered.get("registration_status", "Accepted"),
        approved=registered.get("approved_at") is not None,
    )


async def admit_charge_points(
    repos: Repositories,
    candidates: Sequence[tuple[str, str | None]],
    *,
    auto_register: bool,
    verified: VerifiedPasswords,
) -> list[AdmissionDecision]:
    """Decide, for each (charge point id, password presented) connecting, whether it may; one
    query for all of them (a reconnection storm brings them by the hundred)."""
    if not candidates:
        return []
    rows = await repos.charge_points.get_rows({cp_id for cp_id, _ in candidates})
    # Strangers are rare: the policy for them is read only when one comes.
    strangers = not auto_register and any(cp_id not in rows for cp_id, _ in candidates)
    unknown_stations = await repos.onboarding.policy() if strangers else "refuse"
    return list(
        await asyncio.gather(
            *(
                _admit(
                    repos,
                    cp_id,
                    password,
                    rows.get(cp_id),
                    auto_register,
                    unknown_stations,
                    verified,
                )
                for cp_id, password in candidates
            )
        )
    )


async def _admit(
    repos: Repositories,
    charge_point_id: str,
    password: str | None,
    row: dict[str, Any] | None,
    auto_register: bool,
    unknown_stations: UnknownStations,
    verified: VerifiedPasswords,
) -> AdmissionDecision:
    stored = row.get("password_hash") if row is not None else None
    decide = functools.partial(
        decide_admission,
        row,
        password,
        auto_register=auto_register,
        unknown_stations=unknown_stations,
        password_matches=functools.partial(verified.verify, charge_point_id),
    )
    if password is not None and stored is not None and not verified.known(charge_point_id, stored):
        # scrypt is slow on purpose: keep it off the event loop that serves the other chargers.
        decision = await asyncio.to_thread(decide)
    else:
        decision = decide()
    if decision.register:
        password_hash = await asyncio.to_thread(hash_password, password) if password else None
        await repos.charge_points.insert(
            charge_point_id, password_hash, None, decision.registration_status
        )
    return decision


async def register_charge_point(repos: Repositories, reg: ChargePointRegistration) -> ChargePoint:
    if reg.site_id is not None and await repos.sites.get(reg.site_id) is None:
        raise NotFound(f"no site {reg.site_id!r}")
    password_hash = await asyncio.to_thread(hash_password, reg.password) if reg.password else None
    if not await repos.charge_points.insert(reg.id, password_hash, reg.site_id):
        raise Conflict(f"charge point {reg.id!r} is already registered")
    return await get_charge_point(repos, reg.id)


async def store_new_password(repos: Repositories, charge_point_id: str, password: str) -> None:
    if await repos.charge_points.get_row(charge_point_id) is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    password_hash = await asyncio.to_thread(hash_password, password)
    await repos.charge_points.update(charge_point_id, {"password_hash": password_hash})


async def get_charge_point(repos: Repositories, charge_point_id: str) -> ChargePoint:
    cp = await repos.charge_points.get(charge_point_id)
    if cp is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    return cp


async def list_charge_points(
    repos: Repositories,
    *,
    filters: ChargePointFilter | None = None,
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 100,
) -> ChargePointPage:
    items, next_cursor = await paginate(
        lambda **page: repos.charge_points.list_summaries(
            filters=filters or ChargePointFilter(), **page
        ),
        ChargePointRepository,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return ChargePointPage(items=items, next_cursor=next_cursor)


async def update_charge_point(
    repos: Repositories, charge_point_id: str, update: ChargePointUpdate
) -> ChargePoint:
    changes = update.model_dump(exclude_unset=True)
    if changes.get("site_id") is not None and await repos.sites.get(changes["site_id"]) is None:
        raise NotFound(f"no site {changes['site_id']!r}")
    if not await repos.charge_points.update(charge_point_id, changes):
        raise NotFound(f"no charge point {charge_point_id!r}")
    return await get_charge_point(repos, charge_point_id)


async def decommission_charge_point(repos: Repositories, charge_point_id: str) -> None:
    """Take a charge point out of service: it may no longer connect and leaves the lists; its
    transactions and meter values stay for billing. Registering the id again restores it."""
    cp = await get_charge_point(repos, charge_point_id)
    if cp.active_transactions:
        raise Conflict(
            f"charge point {charge_point_id!r} has {len(cp.active_transactions)} open "
            "transaction(s); stop them first"
        )
    if not await repos.charge_points.decommission(charge_point_id):
        raise Conflict(f"charge point {charge_point_id!r} is decommissioned already")


class AvailableConnector(BaseModel):
    charge_point_id: str
    site_id: str | None
    connector_id: int = Field(description="connector (1.6) or EVSE (2.0.1)")
    ocpp_protocol: str | None
    max_power_kw: float
    available_since: datetime = Field(description="when it last reported Available")


class AvailableConnectors(BaseModel):
    items: list[AvailableConnector]


async def list_available_connectors(
    repos: Repositories, *, site_id: str | None = None, limit: int = 100
) -> AvailableConnectors:
    """Connectors a driver could plug into now: Available, on a connected charge point."""
    rows = await repos.connectors.available(site_id=site_id, limit=limit)
    return AvailableConnectors(items=[AvailableConnector(**r) for r in rows])
