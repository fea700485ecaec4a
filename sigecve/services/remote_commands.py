"""Named remote commands: what operators ask for, in the charger's own OCPP version.

`commands.send_command` forwards any payload as it is; here live the business checks (the tag
may charge, the transaction is open on that charger, the connector exists) and the mapping of
one operator intent onto the 1.6 or 2.0.1 message that carries it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from sigecve.db.repositories import Repositories
from sigecve.domain import CommandResult, Flag, IdTagStatus, Integer, Reservation
from sigecve.services.charge_points import get_charge_point, store_new_password
from sigecve.services.commands import ChargePointDirectory
from sigecve.services.errors import Conflict, InvalidInput, NotConnected, NotFound
from sigecve.services.id_tags import authorize

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"
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

    async def _protocol(self, charge_point_id: str) -> str:
        row = await self.repos.charge_points.get_row(charge_point_id)
        if row is None:
            raise NotFound(f"no charge point {charge_point_id!r}")
        if not row["connected"]:
            raise NotConnected(f"charge point {charge_point_id!r} is not connected")
        return row["ocpp_protocol"] or V16

    async def _send(self, charge_point_id: str, action: str, payload: dict) -> CommandResult:
        return await self.directory.call(charge_point_id, action, payload, None)

    async def reset(self, charge_point_id: str, req: ResetRequest) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            kind = "Soft" if req.kind is ResetKind.soft else "Hard"
        else:
            kind = "OnIdle" if req.kind is ResetKind.soft else "Immediate"
        return await self._send(charge_point_id, "Reset", {"type": kind})

    async def unlock(self, charge_point_id: str, req: UnlockRequest) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        await self._check_connector(charge_point_id, req.connector_id)
        if protocol == V16:
            payload: dict[str, Any] = {"connectorId": req.connector_id}
        else:
            payload = {"evseId": req.connector_id, "connectorId": 1}
        return await self._send(charge_point_id, "UnlockConnector", payload)

    async def remote_start(self, charge_point_id: str, req: RemoteStartRequest) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        status, _ = await authorize(self.repos, req.id_tag, datetime.now(UTC))
        if status is not IdTagStatus.accepted:
            raise Conflict(f"id tag {req.id_tag!r} may not charge: {status.value}")
        if protocol == V16 and len(req.id_tag) > 20:
            raise InvalidInput("id_tag: OCPP 1.6 chargers take at most 20 characters")
        if req.connector_id is not None:
            await self._check_connector(charge_point_id, req.connector_id)
        if protocol == V16:
            payload: dict[str, Any] = {"idTag": req.id_tag}
            if req.connector_id is not None:
                payload["connectorId"] = req.connector_id
            return await self._send(charge_point_id, "RemoteStartTransaction", payload)
        payload = {
            "idToken": {"idToken": req.id_tag, "type": "ISO14443"},
            "remoteStartId": secrets.randbelow(2**31 - 1) + 1,
        }
        if req.connector_id is not None:
            payload["evseId"] = req.connector_id
        return await self._send(charge_point_id, "RequestStartTransaction", payload)

    async def remote_stop(self, charge_point_id: str, req: RemoteStopRequest) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        tx = await self.repos.transactions.get(req.id)
        if tx is None or tx.charge_point_id != charge_point_id:
            raise NotFound(f"no transaction {req.id} on charge point {charge_point_id!r}")
        if tx.stopped_at is not None:
            raise Conflict(f"transaction {req.id} has ended already")
        if protocol == V16:
            return await self._send(
                charge_point_id, "RemoteStopTransaction", {"transactionId": int(tx.transaction_id)}
            )
        return await self._send(
            charge_point_id, "RequestStopTransaction", {"transactionId": str(tx.transaction_id)}
        )

    async def change_availability(
        self, charge_point_id: str, req: AvailabilityRequest
    ) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        if req.connector_id:
            await self._check_connector(charge_point_id, req.connector_id)
        kind = "Operative" if req.operative else "Inoperative"
        if protocol == V16:
            payload: dict[str, Any] = {"connectorId": req.connector_id, "type": kind}
        else:
            payload = {"operationalStatus": kind}
            if req.connector_id:
                payload["evse"] = {"id": req.connector_id}
        return await self._send(charge_point_id, "ChangeAvailability", payload)

    async def trigger(self, charge_point_id: str, req: TriggerRequest) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        payload: dict[str, Any] = {"requestedMessage": req.message}
        if req.connector_id is not None:
            if protocol == V16:
                payload["connectorId"] = req.connector_id
            else:
                payload["evse"] = {"id": req.connector_id}
        return await self._send(charge_point_id, "TriggerMessage", payload)

    async def clear_cache(self, charge_point_id: str) -> CommandResult:
        await self._protocol(charge_point_id)
        return await self._send(charge_point_id, "ClearCache", {})

    async def get_configuration(self, charge_point_id: str, keys: list[str]) -> Configuration:
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            payload = {"key": keys} if keys else {}
            result = await self._send(charge_point_id, "GetConfiguration", payload)
            _raise_on_call_error(result)
            items = [
                ConfigurationItem(
                    key=entry.get("key", ""),
                    value=entry.get("value"),
                    readonly=entry.get("readonly"),
                )
                for entry in result.response.get("configurationKey") or []
            ]
            items += [
                ConfigurationItem(key=k, status="UnknownKey")
                for k in result.response.get("unknownKey") or []
            ]
            return Configuration(charge_point_id=charge_point_id, items=items)
        if not keys:
            raise InvalidInput(
                "keys: name the variables to read (Component.Variable) for an OCPP 2.0.1 "
                "charger; its full report comes through GetBaseReport"
            )
        data = [_variable_ref(k) for k in keys]
        result = await self._send(charge_point_id, "GetVariables", {"getVariableData": data})
        _raise_on_call_error(result)
        items = [
            ConfigurationItem(
                key=f"{r['component']['name']}.{r['variable']['name']}",
                value=r.get("attributeValue"),
                status=r.get("attributeStatus", "Accepted"),
            )
            for r in result.response.get("getVariableResult") or []
        ]
        return Configuration(charge_point_id=charge_point_id, items=items)

    async def change_configuration(
        self, charge_point_id: str, change: ConfigurationChange
    ) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            return await self._send(
                charge_point_id, "ChangeConfiguration", {"key": change.key, "value": change.value}
            )
        result = await self._send(
            charge_point_id,
            "SetVariables",
            {"setVariableData": [{**_variable_ref(change.key), "attributeValue": change.value}]},
        )
        results = result.response.get("setVariableResult") or []
        if result.status == "Replied" and results:
            result.status = str(results[0].get("attributeStatus", "Replied"))
        return result

    async def update_firmware(self, charge_point_id: str, req: FirmwareUpdate) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        retrieve = (req.retrieve_at or datetime.now(UTC)).isoformat()
        if protocol == V16:
            payload: dict[str, Any] = {"location": req.location, "retrieveDate": retrieve}
            if req.retries is not None:
                payload["retries"] = req.retries
            if req.retry_interval_s is not None:
                payload["retryInterval"] = req.retry_interval_s
            return await self._send(charge_point_id, "UpdateFirmware", payload)
        payload = {
            "requestId": secrets.randbelow(2**31 - 1) + 1,
            "firmware": {"location": req.location, "retrieveDateTime": retrieve},
        }
        if req.retries is not None:
            payload["retries"] = req.retries
        if req.retry_interval_s is not None:
            payload["retryInterval"] = req.retry_interval_s
        return await self._send(charge_point_id, "UpdateFirmware", payload)

    async def reserve(self, charge_point_id: str, req: ReservationRequest) -> Reservation:
        protocol = await self._protocol(charge_point_id)
        now = datetime.now(UTC)
        if req.expires_at <= now:
            raise InvalidInput("expires_at: must be in the future")
        status, _ = await authorize(self.repos, req.id_tag, now)
        if status is not IdTagStatus.accepted:
            raise Conflict(f"id tag {req.id_tag!r} may not charge: {status.value}")
        if req.connector_id:
            await self._check_connector(charge_point_id, req.connector_id)
        reservation_id = await self.repos.reservations.next_id()
        expiry = req.expires_at.isoformat()
        if protocol == V16:
            payload: dict[str, Any] = {
                "connectorId": req.connector_id,
                "expiryDate": expiry,
                "idTag": req.id_tag,
                "reservationId": reservation_id,
            }
        else:
            payload = {
                "id": reservation_id,
                "expiryDateTime": expiry,
                "idToken": {"idToken": req.id_tag, "type": "ISO14443"},
            }
            if req.connector_id:
                payload["evseId"] = req.connector_id
        result = await self._send(charge_point_id, "ReserveNow", payload)
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
        await self._protocol(reservation.charge_point_id)
        result = await self._send(
            reservation.charge_point_id, "CancelReservation", {"reservationId": reservation_id}
        )
        if result.status == "Accepted":
            await self.repos.reservations.cancel(reservation_id)
        return result

    async def set_charging_profile(
        self, charge_point_id: str, req: ChargingProfileRequest
    ) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            payload = {"connectorId": req.connector_id, "csChargingProfiles": req.profile}
            profile_id = req.profile.get("chargingProfileId")
        else:
            payload = {"evseId": req.connector_id, "chargingProfile": req.profile}
            profile_id = req.profile.get("id")
        result = await self._send(charge_point_id, "SetChargingProfile", payload)
        if isinstance(profile_id, int) and result.status == "Accepted":
            await self.repos.charging_profiles.add(
                charge_point_id, req.connector_id, profile_id, req.profile, result.status
            )
        return result

    async def clear_charging_profile(
        self, charge_point_id: str, profile_id: int | None
    ) -> CommandResult:
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            payload: dict[str, Any] = {} if profile_id is None else {"id": profile_id}
        else:
            payload = {} if profile_id is None else {"chargingProfileId": profile_id}
        result = await self._send(charge_point_id, "ClearChargingProfile", payload)
        if result.status == "Accepted":
            await self.repos.charging_profiles.mark_cleared(charge_point_id, profile_id)
        return result

    async def rotate_password(self, charge_point_id: str, password: str, push: bool) -> str:
        """'stored', or 'stored and set on the charger'; Conflict if the charger refused."""
        if not push:
            await store_new_password(self.repos, charge_point_id, password)
            return "stored"
        protocol = await self._protocol(charge_point_id)
        if protocol == V16:
            result = await self._send(
                charge_point_id,
                "ChangeConfiguration",
                {"key": "AuthorizationKey", "value": password},
            )
        else:
            result = await self.change_configuration(
                charge_point_id,
                ConfigurationChange(key="SecurityCtrlr.BasicAuthPassword", value=password),
            )
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


def _variable_ref(key: str) -> dict[str, Any]:
    component, dot, variable = key.partition(".")
    if not dot or not component or not variable:
        raise InvalidInput(f"key {key!r}: name OCPP 2.0.1 variables as Component.Variable")
    return {"component": {"name": component}, "variable": {"name": variable}}


def _raise_on_call_error(result: CommandResult) -> None:
    if result.status == "CallError":
        raise Conflict(
            f"the charger answered {result.action} with {result.response.get('errorCode')}: "
            f"{result.response.get('errorDescription')}"
        )
