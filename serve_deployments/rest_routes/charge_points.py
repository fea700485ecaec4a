"""Charge points: registration and changes, live status, remote commands, configuration,
firmware, reservations and charging profiles, message log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from serve_deployments.rest_routes.common import (
    ApiContext,
    Cursor,
    IntId,
    PageSize,
    errors,
    require,
)
from sigecve.db.repositories import ChargePointFilter
from sigecve.domain import ChargePoint, ChargePointUpdate, Command, CommandResult, Reservation
from sigecve.services import charge_points, commands, diagnostics, parameters
from sigecve.services.api_tokens import Role
from sigecve.services.charge_points import (
    AvailableConnectors,
    ChargePointPage,
    ChargePointRegistration,
    PasswordChange,
)
from sigecve.services.charging_profiles import ChargingProfilePage, list_charging_profiles
from sigecve.services.diagnostics import Diagnosis, FailureRisk
from sigecve.services.display_messages import DisplayMessages, display_messages_of
from sigecve.services.local_lists import (
    LocalListRequest,
    LocalListSync,
    LocalListUpdate,
    local_list_sync,
)
from sigecve.services.message_log import MessageLog, recent_frames
from sigecve.services.remote_commands import (
    AvailabilityRequest,
    ChargingProfileRequest,
    Configuration,
    ConfigurationChange,
    DisplayMessageRequest,
    DisplayMessageSet,
    FirmwareUpdate,
    RemoteStartRequest,
    RemoteStopRequest,
    ReservationRequest,
    ResetRequest,
    TriggerRequest,
    UnlockRequest,
)
from sigecve.services.reservations import ReservationPage, list_reservations

CommandErrors = errors(404, 409, 422, 504)


class PasswordChanged(BaseModel):
    charge_point_id: parameters.ChargePointId
    outcome: str = Field(examples=["stored and set on the charger"])


class ChargerEvent(BaseModel):
    action: str
    payload: dict
    received_at: str


class ChargerEvents(BaseModel):
    charge_point_id: parameters.ChargePointId
    untrusted: bool = True
    events: list[ChargerEvent]


def router(ctx: ApiContext) -> APIRouter:
    api = APIRouter(tags=["charge points"])
    viewer, operator, admin = (require(ctx, r) for r in Role)

    @api.post(
        "/charge-points",
        status_code=201,
        response_model=ChargePoint,
        responses=errors(404, 409),
        dependencies=[operator],
    )
    async def register_charge_point(body: ChargePointRegistration) -> ChargePoint:
        """Register a charge point (or one decommissioned before); 409 if it is in service,
        404 if its site does not exist."""
        return await charge_points.register_charge_point(ctx.repos, body)

    @api.get("/charge-points", response_model=ChargePointPage, dependencies=[viewer])
    async def list_charge_points(
        site_id: parameters.SiteId | None = None,
        connected: bool | None = None,
        protocol: Literal["ocpp1.6", "ocpp2.0.1", "ocpp2.1"] | None = None,
        status: Annotated[
            str | None,
            Query(max_length=32, description="charge points with a connector in this status"),
        ] = None,
        q: Annotated[str | None, Query(max_length=48, description="id contains")] = None,
        include_decommissioned: bool = False,
        sort: Literal[
            "id", "-id", "last_seen_at", "-last_seen_at", "registered_at", "-registered_at"
        ] = "id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> ChargePointPage:
        filters = ChargePointFilter(
            site_id=site_id,
            connected=connected,
            protocol=protocol,
            status=status,
            q=q,
            include_decommissioned=include_decommissioned,
        )
        return await charge_points.list_charge_points(
            ctx.repos, filters=filters, sort=sort, cursor=cursor, limit=limit
        )

    @api.get(
        "/charge-points/{charge_point_id}",
        response_model=ChargePoint,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_charge_point(charge_point_id: parameters.ChargePointId) -> ChargePoint:
        """Connection, protocol, boot info, connectors with status, active transactions."""
        return await charge_points.get_charge_point(ctx.repos, charge_point_id)

    @api.patch(
        "/charge-points/{charge_point_id}",
        response_model=ChargePoint,
        responses=errors(404, 422),
        dependencies=[operator],
    )
    async def update_charge_point(
        charge_point_id: parameters.ChargePointId, body: ChargePointUpdate
    ) -> ChargePoint:
        """Move to another site, or correct its power, phases or charging-rate unit."""
        return await charge_points.update_charge_point(ctx.repos, charge_point_id, body)

    @api.delete(
        "/charge-points/{charge_point_id}",
        status_code=204,
        responses=errors(404, 409),
        dependencies=[admin],
    )
    async def decommission_charge_point(charge_point_id: parameters.ChargePointId) -> Response:
        """Take out of service: it may no longer connect; its history stays for billing.
        Registering the id again brings it back."""
        await charge_points.decommission_charge_point(ctx.repos, charge_point_id)
        return Response(status_code=204)

    @api.put(
        "/charge-points/{charge_point_id}/password",
        response_model=PasswordChanged,
        responses=errors(404, 409),
        dependencies=[admin],
    )
    async def change_password(
        charge_point_id: parameters.ChargePointId, body: PasswordChange
    ) -> PasswordChanged:
        """Rotate the HTTP Basic password; with `push_to_charger`, set it on the charger
        first and store it only if the charger accepts."""
        outcome = await ctx.commander.rotate_password(
            charge_point_id, body.password, body.push_to_charger
        )
        return PasswordChanged(charge_point_id=charge_point_id, outcome=outcome)

    @api.post(
        "/charge-points/{charge_point_id}/commands",
        response_model=CommandResult,
        tags=["commands"],
        dependencies=[admin],
        responses=CommandErrors,
    )
    async def send_command(
        charge_point_id: parameters.ChargePointId,
        body: Command,
        timeout_s: Annotated[float | None, Query(gt=0, le=300)] = None,
    ) -> CommandResult:
        """Forward any schema-valid OCPP call of the charger's version, as it is."""
        return await commands.send_command(
            ctx.repos, ctx.directory, charge_point_id, body, timeout_s
        )

    def named(path: str, summary: str, role=operator):
        return api.post(
            f"/charge-points/{{charge_point_id}}/{path}",
            response_model=CommandResult,
            tags=["commands"],
            dependencies=[role],
            responses=CommandErrors,
            summary=summary,
        )

    @named("reset", "Reset the charger (soft or hard)")
    async def reset(charge_point_id: parameters.ChargePointId, body: ResetRequest) -> CommandResult:
        return await ctx.commander.reset(charge_point_id, body)

    @named("unlock", "Unlock a connector (a cable stuck in it)")
    async def unlock(
        charge_point_id: parameters.ChargePointId, body: UnlockRequest
    ) -> CommandResult:
        return await ctx.commander.unlock(charge_point_id, body)

    @named("remote-start", "Start a session for an id tag that may charge")
    async def remote_start(
        charge_point_id: parameters.ChargePointId, body: RemoteStartRequest
    ) -> CommandResult:
        return await ctx.commander.remote_start(charge_point_id, body)

    @named("remote-stop", "Stop an open session on this charger")
    async def remote_stop(
        charge_point_id: parameters.ChargePointId, body: RemoteStopRequest
    ) -> CommandResult:
        return await ctx.commander.remote_stop(charge_point_id, body)

    @named("availability", "Make the charger or a connector operative or inoperative")
    async def change_availability(
        charge_point_id: parameters.ChargePointId, body: AvailabilityRequest
    ) -> CommandResult:
        return await ctx.commander.change_availability(charge_point_id, body)

    @named("trigger", "Ask the charger to send a message now (status, heartbeat, ...)")
    async def trigger(
        charge_point_id: parameters.ChargePointId, body: TriggerRequest
    ) -> CommandResult:
        return await ctx.commander.trigger(charge_point_id, body)

    @named("clear-cache", "Clear the charger's authorization cache")
    async def clear_cache(charge_point_id: parameters.ChargePointId) -> CommandResult:
        return await ctx.commander.clear_cache(charge_point_id)

    @named("firmware", "Have the charger download and install firmware", role=admin)
    async def update_firmware(
        charge_point_id: parameters.ChargePointId, body: FirmwareUpdate
    ) -> CommandResult:
        return await ctx.commander.update_firmware(charge_point_id, body)

    @api.get(
        "/charge-points/{charge_point_id}/configuration",
        response_model=Configuration,
        tags=["configuration"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def get_configuration(
        charge_point_id: parameters.ChargePointId,
        keys: Annotated[
            list[str],
            Query(
                max_length=100,
                description="1.6: keys (none: all); 2.0.1: Component.Variable names",
            ),
        ] = [],  # noqa: B006 - FastAPI copies query defaults
    ) -> Configuration:
        """Read the configuration from the charger now."""
        return await ctx.commander.get_configuration(charge_point_id, keys)

    @api.put(
        "/charge-points/{charge_point_id}/configuration",
        response_model=CommandResult,
        tags=["configuration"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def change_configuration(
        charge_point_id: parameters.ChargePointId, body: ConfigurationChange
    ) -> CommandResult:
        """Change one key (1.6 ChangeConfiguration) or variable (2.0.1 SetVariables)."""
        return await ctx.commander.change_configuration(charge_point_id, body)

    @api.post(
        "/charge-points/{charge_point_id}/display-messages",
        response_model=DisplayMessageSet,
        tags=["display messages"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def set_display_message(
        charge_point_id: parameters.ChargePointId, body: DisplayMessageRequest
    ) -> DisplayMessageSet:
        """Show a message on a 2.x station's display (SetDisplayMessage); 409 for 1.6."""
        return await ctx.commander.set_display_message(charge_point_id, body)

    @api.get(
        "/charge-points/{charge_point_id}/display-messages",
        response_model=DisplayMessages,
        tags=["display messages"],
        responses=errors(404),
        dependencies=[viewer],
    )
    async def list_display_messages(charge_point_id: parameters.ChargePointId) -> DisplayMessages:
        """The messages set on the station or reported by it, not cleared."""
        return await display_messages_of(ctx.repos, charge_point_id)

    @api.post(
        "/charge-points/{charge_point_id}/display-messages/refresh",
        response_model=CommandResult,
        tags=["display messages"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def refresh_display_messages(charge_point_id: parameters.ChargePointId) -> CommandResult:
        """Ask the station what it shows (GetDisplayMessages); its NotifyDisplayMessages is
        kept."""
        return await ctx.commander.request_display_messages(charge_point_id)

    @api.delete(
        "/charge-points/{charge_point_id}/display-messages/{message_id}",
        response_model=CommandResult,
        tags=["display messages"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def clear_display_message(
        charge_point_id: parameters.ChargePointId, message_id: IntId
    ) -> CommandResult:
        return await ctx.commander.clear_display_message(charge_point_id, message_id)

    @api.post(
        "/charge-points/{charge_point_id}/local-list",
        response_model=LocalListUpdate,
        tags=["local authorisation list"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def send_local_list(
        charge_point_id: parameters.ChargePointId, body: LocalListRequest
    ) -> LocalListUpdate:
        """Send the id tags as the charger's local list, versioned (SendLocalList): all of
        them, or what changed since the version it has. 409 when the charger holds another
        version (VersionMismatch): send a full list."""
        return await ctx.commander.send_local_list(charge_point_id, body)

    @api.get(
        "/charge-points/{charge_point_id}/local-list",
        response_model=LocalListSync,
        tags=["local authorisation list"],
        responses=errors(404),
        dependencies=[viewer],
    )
    async def get_local_list_sync(charge_point_id: parameters.ChargePointId) -> LocalListSync:
        """The version the charger was last sent, the id tags changed since, its last answer."""
        return await local_list_sync(ctx.repos, charge_point_id)

    @api.post(
        "/charge-points/{charge_point_id}/local-list/check",
        response_model=LocalListSync,
        tags=["local authorisation list"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def check_local_list(charge_point_id: parameters.ChargePointId) -> LocalListSync:
        """Ask the charger which version it holds (GetLocalListVersion)."""
        return await ctx.commander.check_local_list(charge_point_id)

    @api.post(
        "/charge-points/{charge_point_id}/reservations",
        status_code=201,
        response_model=Reservation,
        tags=["reservations"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def reserve(
        charge_point_id: parameters.ChargePointId, body: ReservationRequest
    ) -> Reservation:
        """Reserve a connector for an id tag until `expires_at` (ReserveNow); the charger's
        answer is the reservation's status."""
        return await ctx.commander.reserve(charge_point_id, body)

    @api.get(
        "/reservations",
        response_model=ReservationPage,
        tags=["reservations"],
        dependencies=[viewer],
    )
    async def reservations(
        charge_point_id: parameters.ChargePointId | None = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
        sort: Literal["id", "-id"] = "-id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> ReservationPage:
        return await list_reservations(
            ctx.repos,
            charge_point_id=charge_point_id,
            status=status,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @api.delete(
        "/reservations/{reservation_id}",
        response_model=CommandResult,
        tags=["reservations"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def cancel_reservation(reservation_id: IntId) -> CommandResult:
        return await ctx.commander.cancel_reservation(reservation_id)

    @api.post(
        "/charge-points/{charge_point_id}/charging-profiles",
        response_model=CommandResult,
        tags=["charging profiles"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def set_charging_profile(
        charge_point_id: parameters.ChargePointId, body: ChargingProfileRequest
    ) -> CommandResult:
        """Send a charging profile (SetChargingProfile); kept when the charger accepts it.
        Sites under smart charging get TxProfiles from their grid scheduler as well."""
        return await ctx.commander.set_charging_profile(charge_point_id, body)

    @api.delete(
        "/charge-points/{charge_point_id}/charging-profiles",
        response_model=CommandResult,
        tags=["charging profiles"],
        responses=CommandErrors,
        dependencies=[operator],
    )
    async def clear_charging_profiles(
        charge_point_id: parameters.ChargePointId,
        profile_id: Annotated[
            int | None, Query(ge=-(2**31), le=2**31 - 1, description="none: clear all")
        ] = None,
    ) -> CommandResult:
        return await ctx.commander.clear_charging_profile(charge_point_id, profile_id)

    @api.get(
        "/charging-profiles",
        response_model=ChargingProfilePage,
        tags=["charging profiles"],
        dependencies=[viewer],
    )
    async def charging_profiles(
        charge_point_id: parameters.ChargePointId | None = None,
        active: bool | None = None,
        sort: Literal["id", "-id"] = "-id",
        cursor: Cursor = None,
        limit: PageSize = 100,
    ) -> ChargingProfilePage:
        return await list_charging_profiles(
            ctx.repos,
            charge_point_id=charge_point_id,
            active=active,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    @api.get(
        "/connectors/available",
        response_model=AvailableConnectors,
        dependencies=[viewer],
    )
    async def available_connectors(
        site_id: parameters.SiteId | None = None,
        limit: PageSize = 100,
    ) -> AvailableConnectors:
        """Connectors a driver could plug into now: Available, on a connected charge point."""
        return await charge_points.list_available_connectors(
            ctx.repos, site_id=site_id, limit=limit
        )

    @api.get(
        "/charge-points/{charge_point_id}/diagnosis",
        response_model=Diagnosis,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def diagnosis(charge_point_id: parameters.ChargePointId) -> Diagnosis:
        """Faulted connectors, recent faults and error codes, the charger's error replies,
        failure risk and a suggested action. Charger text is untrusted data."""
        return await diagnostics.diagnose_charge_point(ctx.repos, charge_point_id)

    @api.get(
        "/charge-points/{charge_point_id}/failure-risk",
        response_model=FailureRisk,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def failure_risk(charge_point_id: parameters.ChargePointId) -> FailureRisk:
        """The riskiest open failure-prediction alert: risk, horizon, mode, top signals."""
        return await diagnostics.failure_risk(ctx.repos, charge_point_id)

    @api.get(
        "/charge-points/{charge_point_id}/log",
        response_model=MessageLog,
        responses=errors(404),
        dependencies=[operator],
    )
    async def message_log(
        charge_point_id: parameters.ChargePointId, limit: PageSize = 100
    ) -> MessageLog:
        """The newest OCPP frames to and from the charger, newest first."""
        return await recent_frames(ctx.repos, charge_point_id, limit)

    @api.get(
        "/charge-points/{charge_point_id}/events",
        response_model=ChargerEvents,
        responses=errors(404),
        dependencies=[viewer],
    )
    async def charger_events(
        charge_point_id: parameters.ChargePointId,
        action: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> ChargerEvents:
        """Notifications the charger sent (firmware and diagnostics status, security events,
        reports, data transfers, ...), newest first, as they came."""
        await charge_points.get_charge_point(ctx.repos, charge_point_id)
        rows = await ctx.repos.events.recent(charge_point_id, action=action, limit=limit)
        events = [
            ChargerEvent(
                action=r["action"], payload=r["payload"], received_at=r["received_at"].isoformat()
            )
            for r in rows
        ]
        return ChargerEvents(charge_point_id=charge_point_id, events=events)

    return api
