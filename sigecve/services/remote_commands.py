"""Named remote commands: what operators ask for, in the charger's own OCPP version.

`commands.send_command` forwards any payload as it is; here live the business checks (the tag
may charge, the transaction is open on that charger, the connector exists). The message that
carries each intent is built per version in `sigecve/ocpp/outbound_v16.py` and
`outbound_v201.py`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from types import ModuleType
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.domain import (
    CommandResult,
    DisplayMessage,
    Flag,
    IdTagStatus,
    Integer,
    Reservation,
)
from sigecve.local_list import MAX_ENTRIES, latest_per_tag, update_to_send
from sigecve.ocpp.outbound import OutboundCall, messages_for
from sigecve.services.charge_points import get_charge_point, store_new_password
from sigecve.services.commands import ChargePointDirectory
from sigecve.services.device_model import check_change
from sigecve.services.errors import Conflict, InvalidInput, NotConnected, NotFound
from sigecve.services.id_tags import authorize
from sigecve.services.local_lists import (
    LocalListRequest,
    LocalListSync,
    LocalListUpdate,
    local_list_sync,
)

MAX_CONNECTOR = 2**31 - 1


class ResetKind(StrEnum):
    soft = "soft"
    hard = "hard"


class ResetRequest(BaseModel):
    kind: ResetKind = Field(
        default=ResetKind.soft,
        description="soft: when idle, ending sessions gracefully (1.6 Soft, 2.0.1 OnIdle); "
        "hard: now (1.6 Hard, 2.0.1 Immediate)",
    )


class UnlockRequest(BaseModel):
    connector_id: Integer = Field(
        ge=1, le=MAX_CONNECTOR, description="connector (1.6) or EVSE (2.0.1)"
    )


ID_TAG_DESCRIPTION = "at most 36 characters; 20 for an OCPP 1.6 charger"


class RemoteStartRequest(BaseModel):
    id_tag: str = Field(
        min_length=1, max_length=36, examples=["TAG1"], description=ID_TAG_DESCRIPTION
    )
    connector_id: Integer | None = Field(
        default=None,
        ge=1,
        le=MAX_CONNECTOR,
        description="connector (1.6) or EVSE (2.0.1); omitted: charger picks",
    )


class RemoteStopRequest(BaseModel):
    id: Integer = Field(
        ge=1, le=2**63 - 1, description="SIGEC-VE's id of the open transaction (`id` in the list)"
    )


class AvailabilityRequest(BaseModel):
    connector_id: Integer = Field(
        default=0, ge=0, le=MAX_CONNECTOR, description="0: the whole charge point"
    )
    operative: Flag


class TriggerRequest(BaseModel):
    message: str = Field(
        min_length=1,
        max_length=64,
        examples=["StatusNotification"],
        description="the message to ask for (names of the charger's OCPP version)",
    )
    connector_id: Integer | None = Field(default=None, ge=1, le=MAX_CONNECTOR)


class ConfigurationChange(BaseModel):
    key: str = Field(
        min_length=1,
        max_length=200,
        examples=["HeartbeatInterval"],
        description="1.6: the configuration key; 2.0.1: `Component.Variable` (both parts required)",
    )
    value: str = Field(max_length=1000, examples=["300"])


class ConfigurationItem(BaseModel):
    key: str
    value: str | None = None
    readonly: bool | None = None
    status: str = Field(default="Accepted", description="Accepted, or why there is no value")


class Configuration(BaseModel):
    charge_point_id: str
    items: list[ConfigurationItem]


class DisplayMessageRequest(BaseModel):
    content: str = Field(min_length=1, max_length=512, examples=["Out of order until 14:00"])
    format: Literal["ASCII", "HTML", "URI", "UTF8"] = "UTF8"
    language: str | None = Field(default=None, max_length=8, examples=["en"])
    priority: Literal["AlwaysFront", "InFront", "NormalCycle"] = "NormalCycle"
    state: Literal["Charging", "Faulted", "Idle", "Unavailable"] | None = Field(
        default=None, description="shown only while the station is in this state"
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    transaction_id: str | None = Field(
        default=None, max_length=36, description="shown during this transaction only"
    )


class DisplayMessageSet(BaseModel):
    message: DisplayMessage
    result: CommandResult


class DeviceModelRequest(BaseModel):
    request_id: int = Field(description="the report's id (its parts carry it)")
    result: CommandResult


class FirmwareUpdate(BaseModel):
    location: str = Field(min_length=1, max_length=512, examples=["https://fw.example/v2.bin"])
    retrieve_at: AwareDatetime | None = Field(default=None, description="default: now")
    retries: Integer | None = Field(default=None, ge=0, le=100)
    retry_interval_s: Integer | None = Field(default=None, ge=0, le=86400)


class ReservationRequest(BaseModel):
    id_tag: str = Field(min_length=1, max_length=36, description=ID_TAG_DESCRIPTION)
    connector_id: Integer = Field(
        default=0, ge=0, le=MAX_CONNECTOR, description="0: any connector (1.6 only)"
    )
    # Aware: a naive time cannot be compared with now (that was a 500).
    expires_at: AwareDatetime = Field(description="in the future, with a time zone")


class ChargingProfileRequest(BaseModel):
    connector_id: Integer = Field(
        ge=0,
        le=MAX_CONNECTOR,
        description="connector (1.6) or EVSE (2.0.1); 0: the whole charge point",
    )
    profile: dict[str, Any] = Field(
        description="the OCPP chargingProfile object of the charger's version (1.6 "
        "csChargingProfiles, 2.0.1 chargingProfile), validated against its schema",
        examples=[
            {
                "chargingProfileId": 1,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                },
            }
        ],
    )


class Commander:
    """Sends named commands to one charger, in its protocol."""

    def __init__(self, repos: Repositories, directory: ChargePointDirectory) -> None:
        self.repos = repos
        self.directory = directory

    async def protocol(self, charge_point_id: str) -> str:
        # The session actor knows whether the charger is connected and in which version;
        # the database's flag may lag a connection that just came or went.
        protocol = await self.directory.protocol_of(charge_point_id)
        if protocol is not None:
            return protocol
        if await self.repos.charge_points.get_row(charge_point_id) is None:
            raise NotFound(f"no charge point {charge_point_id!r}")
        raise NotConnected(f"charge point {charge_point_id!r} is not connected")

    async def messages(self, charge_point_id: str) -> ModuleType:
        return messages_for(await self.protocol(charge_point_id))

    async def send(self, charge_point_id: str, outbound: OutboundCall) -> CommandResult:
        return await self.directory.call(charge_point_id, outbound.action, outbound.payload, None)

    async def reset(self, charge_point_id: str, req: ResetRequest) -> CommandResult:
        messages = await self.messages(charge_point_id)
        return await self.send(charge_point_id, messages.reset(req.kind is ResetKind.soft))

    async def unlock(self, charge_point_id: str, req: UnlockRequest) -> CommandResult:
        messages = await self.messages(charge_point_id)
        await self._check_connector(charge_point_id, req.connector_id)
        return await self.send(charge_point_id, messages.unlock(req.connector_id))

    async def remote_start(self, charge_point_id: str, req: RemoteStartRequest) -> CommandResult:
        messages = await self.messages(charge_point_id)
        status, _ = await authorize(self.repos, req.id_tag, datetime.now(UTC))
        if status is not IdTagStatus.accepted:
            raise Conflict(f"id tag {req.id_tag!r} may not charge: {status.value}")
        start = messages.remote_start(req.id_tag, req.connector_id, new_request_id())
        if req.connector_id is not None:
            await self._check_connector(charge_point_id, req.connector_id)
            held = await self.repos.reservations.holding(
                charge_point_id, req.connector_id, datetime.now(UTC)
            )
            if held is not None and held.id_tag != req.id_tag:
                raise Conflict(
                    f"connector {req.connector_id} is reserved for another id tag until "
                    f"{held.expires_at.isoformat()} (reservation {held.id})"
                )
        return await self.send(charge_point_id, start)

    async def remote_stop(self, charge_point_id: str, req: RemoteStopRequest) -> CommandResult:
        messages = await self.messages(charge_point_id)
        tx = await self.repos.transactions.get(req.id)
        if tx is None or tx.charge_point_id != charge_point_id:
            raise NotFound(f"no transaction {req.id} on charge point {charge_point_id!r}")
        if tx.stopped_at is not None:
            raise Conflict(f"transaction {req.id} has ended already")
        return await self.send(charge_point_id, messages.remote_stop(tx.transaction_id))

    async def change_availability(
        self, charge_point_id: str, req: AvailabilityRequest
    ) -> CommandResult:
        messages = await self.messages(charge_point_id)
        if req.connector_id:
            await self._check_connector(charge_point_id, req.connector_id)
        change = messages.change_availability(req.connector_id, req.operative)
        return await self.send(charge_point_id, change)

    async def trigger(self, charge_point_id: str, req: TriggerRequest) -> CommandResult:
        messages = await self.messages(charge_point_id)
        return await self.send(charge_point_id, messages.trigger(req.message, req.connector_id))

    async def clear_cache(self, charge_point_id: str) -> CommandResult:
        messages = await self.messages(charge_point_id)
        return await self.send(charge_point_id, messages.clear_cache())

    async def get_configuration(self, charge_point_id: str, keys: list[str]) -> Configuration:
        """Read from the charger now; what it says is kept in its device model too."""
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.get_configuration(keys))
        raise_on_call_error(result)
        await self.repos.device_model.store(
            charge_point_id, messages.variables_read(result.response), datetime.now(UTC)
        )
        items = [ConfigurationItem(**i) for i in messages.configuration_items(result.response)]
        return Configuration(charge_point_id=charge_point_id, items=items)

    async def change_configuration(
        self, charge_point_id: str, change: ConfigurationChange
    ) -> CommandResult:
        """Checked against the charger's stored device model first (read-only, type, limits,
        allowed values: 422 before anything is sent); its answer is kept there, taken or not."""
        messages = await self.messages(charge_point_id)
        outbound = messages.change_configuration(change.key, change.value)
        await check_change(self.repos, charge_point_id, change.key, change.value)
        result = await self.send(charge_point_id, outbound)
        if result.status != "CallError":
            await self.repos.device_model.store(
                charge_point_id,
                messages.variables_changed(change.key, change.value, result.response),
                datetime.now(UTC),
            )
        return _with_configuration_status(result, messages)

    async def send_local_list(self, charge_point_id: str, req: LocalListRequest) -> LocalListUpdate:
        """Send the id tags (full) or their changes since the charger's version
        (differential), versioned; the charger's answer decides the sync state. A version
        mismatch (the charger holds another list) is a 409: send a full list."""
        messages = await self.messages(charge_point_id)
        state = await self.repos.local_lists.state(charge_point_id)
        requested = "Full" if req.update == "full" else "Differential"
        update, version = update_to_send(requested, state["version"] if state else None)
        through = await self.repos.local_lists.last_change()
        if update == "Full":
            rows = await self.repos.local_lists.all_tags(MAX_ENTRIES + 1)
        else:
            assert state is not None
            rows = await self.repos.local_lists.changes(state["through_seq"], through)
        entries = latest_per_tag(rows)
        if len(entries) > MAX_ENTRIES:
            raise InvalidInput(
                f"{len(entries)} id tags are more than a local list holds ({MAX_ENTRIES})"
            )
        result = await self.send(
            charge_point_id, messages.send_local_list(version, update, entries)
        )
        raise_on_call_error(result)
        if result.status == "Accepted":
            await self.repos.local_lists.synced(charge_point_id, version, through, update)
        else:
            await self.repos.local_lists.attempted(charge_point_id, result.status)
        sync = await local_list_sync(self.repos, charge_point_id)
        if result.status == "VersionMismatch":
            raise Conflict(
                f"the charger holds another list version than {version - 1}: its answer was "
                "VersionMismatch; send a full update"
            )
        return LocalListUpdate(sync=sync, update_type=update, entries=len(entries), result=result)

    async def set_display_message(
        self, charge_point_id: str, req: DisplayMessageRequest
    ) -> DisplayMessageSet:
        """Show a message on a 2.x station's display (SetDisplayMessage); kept with the
        station's answer. 409 for a 1.6 charger, which has no display messages."""
        messages = await self.messages(charge_point_id)
        if req.starts_at and req.ends_at and req.ends_at <= req.starts_at:
            raise InvalidInput("ends_at: must be after starts_at")
        message = DisplayMessage(
            charge_point_id=charge_point_id,
            id=await self.repos.display_messages.next_id(charge_point_id),
            **req.model_dump(),
        )
        result = await self.send(charge_point_id, messages.set_display_message(message))
        raise_on_call_error(result)
        message.status = result.status
        await self.repos.display_messages.store([message])
        return DisplayMessageSet(message=message, result=result)

    async def clear_display_message(self, charge_point_id: str, message_id: int) -> CommandResult:
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.clear_display_message(message_id))
        raise_on_call_error(result)
        if result.status in ("Accepted", "Unknown"):  # gone from the display either way
            await self.repos.display_messages.cleared(charge_point_id, message_id)
        return result

    async def request_display_messages(self, charge_point_id: str) -> CommandResult:
        """Ask the station what it shows (GetDisplayMessages): NotifyDisplayMessages follows
        and is kept."""
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.get_display_messages(new_request_id()))
        raise_on_call_error(result)
        return result

    async def check_local_list(self, charge_point_id: str) -> LocalListSync:
        """Ask the charger which list version it holds (GetLocalListVersion)."""
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.get_local_list_version())
        raise_on_call_error(result)
        await self.repos.local_lists.checked(
            charge_point_id, messages.local_list_version(result.response)
        )
        return await local_list_sync(self.repos, charge_point_id)

    async def request_device_model_report(self, charge_point_id: str) -> DeviceModelRequest:
        """Ask for the whole device model (2.x GetBaseReport FullInventory, whose parts come
        in NotifyReport; 1.6 GetConfiguration, answered at once)."""
        messages = await self.messages(charge_point_id)
        request_id = new_request_id()
        await self.repos.device_model.report_requested(charge_point_id, request_id, "FullInventory")
        result = await self.send(charge_point_id, messages.device_model_report(request_id))
        raise_on_call_error(result)
        if read := messages.variables_read(result.response):  # it came in the reply (1.6)
            now = datetime.now(UTC)
            await self.repos.device_model.store(charge_point_id, read, now)
            await self.repos.device_model.report_part(charge_point_id, request_id, 0, True, now)
            await self.repos.device_model.report_completed(charge_point_id, request_id)
        return DeviceModelRequest(request_id=request_id, result=result)

    async def update_firmware(self, charge_point_id: str, req: FirmwareUpdate) -> CommandResult:
        messages = await self.messages(charge_point_id)
        retrieve = (req.retrieve_at or datetime.now(UTC)).isoformat()
        update = messages.update_firmware(
            req.location, retrieve, req.retries, req.retry_interval_s, new_request_id()
        )
        return await self.send(charge_point_id, update)

    async def reserve(self, charge_point_id: str, req: ReservationRequest) -> Reservation:
        messages = await self.messages(charge_point_id)
        now = datetime.now(UTC)
        if req.expires_at <= now:
            raise InvalidInput("expires_at: must be in the future")
        status, _ = await authorize(self.repos, req.id_tag, now)
        if status is not IdTagStatus.accepted:
            raise Conflict(f"id tag {req.id_tag!r} may not charge: {status.value}")
        if req.connector_id:
            await self._check_connector(charge_point_id, req.connector_id)
        reservation_id = await self.repos.reservations.next_id()
        reserve = messages.reserve(
            reservation_id, req.connector_id, req.expires_at.isoformat(), req.id_tag
        )
        result = await self.send(charge_point_id, reserve)
        reservation = Reservation(
            id=reservation_id,
            charge_point_id=charge_point_id,
            connector_id=req.connector_id,
            id_tag=req.id_tag,
            expires_at=req.expires_at,
            status=result.status,
            created_at=now,
        )
        await self.repos.reservations.insert(reservation)
        return reservation

    async def cancel_reservation(self, reservation_id: int) -> CommandResult:
        reservation = await self.repos.reservations.get(reservation_id)
        if reservation is None:
            raise NotFound(f"no reservation {reservation_id}")
        if reservation.status != "Accepted":
            raise Conflict(f"reservation {reservation_id} is {reservation.status}, not held")
        messages = await self.messages(reservation.charge_point_id)
        result = await self.send(
            reservation.charge_point_id, messages.cancel_reservation(reservation_id)
        )
        if result.status == "Accepted":
            await self.repos.reservations.cancel(reservation_id)
        return result

    async def set_charging_profile(
        self, charge_point_id: str, req: ChargingProfileRequest
    ) -> CommandResult:
        messages = await self.messages(charge_point_id)
        result = await self.send(
            charge_point_id, messages.set_charging_profile(req.connector_id, req.profile)
        )
        profile_id = messages.charging_profile_id(req.profile)
        if isinstance(profile_id, int) and result.status == "Accepted":
            await self.repos.charging_profiles.add(
                charge_point_id, req.connector_id, profile_id, req.profile, result.status
            )
        return result

    async def clear_charging_profile(
        self, charge_point_id: str, profile_id: int | None
    ) -> CommandResult:
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.clear_charging_profile(profile_id))
        if result.status == "Accepted":
            await self.repos.charging_profiles.mark_cleared(charge_point_id, profile_id)
        return result

    async def rotate_password(self, charge_point_id: str, password: str, push: bool) -> str:
        """'stored', or 'stored and set on the charger'; Conflict if the charger refused."""
        if not push:
            await store_new_password(self.repos, charge_point_id, password)
            return "stored"
        messages = await self.messages(charge_point_id)
        result = await self.send(charge_point_id, messages.set_password(password))
        result = _with_configuration_status(result, messages)
        if result.status != "Accepted":
            raise Conflict(f"the charger did not take the new password: {result.status}")
        await store_new_password(self.repos, charge_point_id, password)
        return "stored and set on the charger"

    async def _check_connector(self, charge_point_id: str, connector_id: int) -> None:
        cp = await get_charge_point(self.repos, charge_point_id)
        known = {c.connector_id for c in cp.connectors}
        if known and connector_id not in known:
            raise NotFound(
                f"charge point {charge_point_id!r} has no connector {connector_id}; "
                f"it reported {sorted(k for k in known if k)}"
            )


def new_request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def _with_configuration_status(result: CommandResult, messages: ModuleType) -> CommandResult:
    """A configuration change's result with the change's own status, where the version
    gives it per variable (2.0.1 SetVariables)."""
    status = messages.configuration_status(result.response)
    if result.status == "Replied" and status is not None:
        result.status = status
    return result


def raise_on_call_error(result: CommandResult) -> None:
    if result.status == "CallError":
        raise Conflict(
            f"the charger answered {result.action} with {result.response.get('errorCode')}: "
            f"{result.response.get('errorDescription')}"
        )
