"""Charge points: registration, admission of a connecting charger, and what operators see."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.domain import ChargePoint, ChargePointSummary
from sigecve.security import hash_password, verify_password
from sigecve.services.errors import Conflict, NotFound

# OCPP-J: the charge point identity is the last path segment; keep it to printable, URL-safe text.
CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,48}$"


class ChargePointRegistration(BaseModel):
    id: str = Field(pattern=CHARGE_POINT_ID_PATTERN, examples=["CP-1"])
    password: str | None = Field(
        default=None, min_length=8, max_length=64, description="HTTP Basic password (profile 1)"
    )
    site_id: str | None = Field(default=None, max_length=64)


class ChargePointPage(BaseModel):
    items: list[ChargePointSummary]
    next_cursor: str | None = None


@dataclass(frozen=True)
class AdmissionDecision:
    accepted: bool
    reason: str
    register: bool = False


def decide_admission(
    registered: dict[str, Any] | None, password: str | None, *, auto_register: bool
) -> AdmissionDecision:
    """Whether a charger presenting `password` may connect (pure: no I/O)."""
    if registered is None:
        if auto_register:
            return AdmissionDecision(True, "auto-registered", register=True)
        return AdmissionDecision(False, "unknown charge point")
    stored = registered.get("password_hash")
    if stored is None:
        return AdmissionDecision(True, "registered without a password")
    if password is None:
        return AdmissionDecision(False, "password required")
    if not verify_password(password, stored):
        return AdmissionDecision(False, "wrong password")
    return AdmissionDecision(True, "password verified")


async def admit_charge_point(
    repos: Repositories, charge_point_id: str, password: str | None, *, auto_register: bool
) -> AdmissionDecision:
    row = await repos.charge_points.get_row(charge_point_id)
    # scrypt is slow on purpose: keep it off the event loop that serves the other chargers.
    decision = await asyncio.to_thread(decide_admission, row, password, auto_register=auto_register)
    if decision.register:
        password_hash = await asyncio.to_thread(hash_password, password) if password else None
        await repos.charge_points.insert(charge_point_id, password_hash, None)
    return decision


async def register_charge_point(repos: Repositories, reg: ChargePointRegistration) -> ChargePoint:
    password_hash = hash_password(reg.password) if reg.password else None
    if not await repos.charge_points.insert(reg.id, password_hash, reg.site_id):
        raise Conflict(f"charge point {reg.id!r} is already registered")
    return await get_charge_point(repos, reg.id)


async def set_charge_point_password(repos: Repositories, charge_point_id: str, password: str):
    await repos.charge_points.upsert_password(charge_point_id, hash_password(password))


async def get_charge_point(repos: Repositories, charge_point_id: str) -> ChargePoint:
    cp = await repos.charge_points.get(charge_point_id)
    if cp is None:
        raise NotFound(f"no charge point {charge_point_id!r}")
    return cp


async def list_charge_points(
    repos: Repositories, *, cursor: str | None, limit: int
) -> ChargePointPage:
    items = await repos.charge_points.list_summaries(after=cursor, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return ChargePointPage(items=items, next_cursor=items[-1].id if more else None)
