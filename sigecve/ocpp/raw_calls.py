"""CSMS-initiated calls given as an action name and a JSON payload, checked against the schema."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, MessageType, validate_payload

from sigecve.services.errors import CommandTimeout, InvalidInput


class CallErrorReply(Exception):
    """The charger answered a CALL with a CALLERROR."""

    def __init__(self, error_code: str, description: str, details: dict) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.details = details


class RawCallMixin:
    """Adds `call_action` to an `ocpp` ChargePoint: the payload is forwarded exactly as given."""

    _ocpp_version: str
    _call_lock: asyncio.Lock

    async def call_action(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict:
        call = Call(unique_id=str(uuid.uuid4()), action=action, payload=payload)
        try:
            await validate_payload(call, self._ocpp_version)
        except OCPPError as e:
            cause = e.details.get("cause") if isinstance(e.details, dict) else None
            first_line = (cause or e.description).splitlines()[0]
            raise InvalidInput(
                f"{action} payload is not valid OCPP {self._ocpp_version}: {first_line}"
            ) from e
        async with self._call_lock:
            await self._send(call.to_json())
            try:
                response = await self._get_specific_response(call.unique_id, timeout_s)
            except TimeoutError as e:
                raise CommandTimeout(f"no reply to {action} within {timeout_s:g} s") from e
        if response.message_type_id == MessageType.CallError:
            raise CallErrorReply(
                response.error_code, response.error_description, response.error_details
            )
        return response.payload
