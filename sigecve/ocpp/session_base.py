"""What the central-system sessions of every version share, on top of the `ocpp` ChargePoint.

- Routing that answers every malformed frame with the CALLERROR its version's spec names and
  keeps the connection (the library logs and drops them).
- CSMS-initiated calls given as an action name and a JSON payload, checked against the schema.
- Notifications that are validated, stored as they came and answered with a fixed reply.
- 2.1's SEND messages (validated, stored, never answered) and CALLRESULTERRORs (logged).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, MessageType
from ocpp.routing import on

from sigecve.db.group_commit import GroupCommitter, after_commit
from sigecve.db.repositories import Repositories
from sigecve.db.write_behind import WriteBehind
from sigecve.ocpp.framing import (
    CallResultError,
    Send,
    call_error_frame,
    error_for_exception,
    read_frame,
)
from sigecve.ocpp.meter_values import last_active_power_kw
from sigecve.ocpp.schemas import validate_payload
from sigecve.ocpp.timestamps import format_timestamp, utc_now
from sigecve.onboarding import RETRY_BOOT_S, boot_answer
from sigecve.services.errors import CommandTimeout, InvalidInput

log = logging.getLogger(__name__)


class CallErrorReply(Exception):
    """The charger answered a CALL with a CALLERROR."""

    def __init__(self, error_code: str, description: str, details: dict) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.details = details


class CentralSystemSession:
    """Mixin for an `ocpp` ChargePoint subclass acting as the CSMS side of one connection."""

    protocol: str
    csms_initiated_actions: frozenset[str]
    all_actions: frozenset[str]  # every action name of the version, either direction
    # 2.1: what a charger may SEND (a CALL never answered); stored as it came.
    send_actions: frozenset[str] = frozenset()
    repos: Repositories
    commits: GroupCommitter
    heartbeats: WriteBehind[tuple[str, datetime]]
    _ocpp_version: str
    _call_lock: asyncio.Lock
    _current_call: Call | None = None
    # What BootNotification is told: Pending or Rejected while it waits for approval.
    registration_status: str = "Accepted"
    approved: bool = False
    boot_retry_s: int = RETRY_BOOT_S

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        repos: Repositories,
        *,
        commits: GroupCommitter,
        heartbeats: WriteBehind[tuple[str, datetime]],
        heartbeat_interval_s: int,
        response_timeout_s: float,
        on_charging_change: Callable[[str], None] | None = None,
        on_power: Callable[[str, int | str, float], None] | None = None,
        on_approved_boot: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=response_timeout_s)
        self.repos = repos
        self.commits = commits
        self.heartbeats = heartbeats
        self.heartbeat_interval_s = heartbeat_interval_s
        self._on_charging_change = on_charging_change
        self._on_power = on_power
        self._on_approved_boot = on_approved_boot
        self._handler_error: Exception | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Once per class, not per session: a fleet reconnecting starts thousands of sessions.
        for name, attribute in list(vars(cls).items()):
            if hasattr(attribute, "_on_action") and not hasattr(attribute, "_reports_failures"):
                setattr(cls, name, _reporting_failures(attribute))

    async def _handle_call_as_unit(self, msg: Call) -> None:
        """A unit of work for the group commit: fails (and rolls back) when its handler did."""
        self._handler_error = None
        await self._handle_call(msg)
        if self._handler_error is not None:
            raise self._handler_error

    async def route_message(self, raw_msg: str) -> None:
        msg, error = read_frame(raw_msg, self.protocol)
        if msg is None:
            if error is not None:
                await self._send(error)
            return
        if isinstance(msg, Send):
            await self._handle_send(msg)
            return
        if isinstance(msg, CallResultError):
            # The frame is in the message log; there is nothing to answer or retry.
            log.warning(
                "%s could not take our reply to %s: %s %s",
                self.id,
                msg.unique_id,
                msg.error_code,
                msg.error_description,
            )
            return
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        self._current_call = msg
        if msg.action not in self.route_map:
            # The spec's meaning (the `ocpp` package swaps the two): NotImplemented for an
            # action the receiver does not know, NotSupported for one it knows but won't take.
            known = msg.action in self.all_actions
            await self._send(
                call_error_frame(
                    msg.unique_id,
                    "NotSupported" if known else "NotImplemented",
                    f"{msg.action} is {'not sent by a charger' if known else 'not an action'}"
                    f" in OCPP {self._ocpp_version}",
                    self.protocol,
                )
            )
            return
        try:
            if msg.action == "Heartbeat":
                # Nothing in it to keep but the time it came (written within half a second by
                # `heartbeats`): answered at once, it costs no transaction. A fleet's
                # commonest message, and the one a reconnecting fleet sends most.
                await self._handle_call(msg)
            else:
                # Handled in a group commit: the reply is released once the data is committed.
                await self.commits.run(lambda: self._handle_call_as_unit(msg))
        except OCPPError as e:
            await self._send(error_for_exception(msg.unique_id, e, self.protocol))
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
            # The charger's values broke a constraint (a negative connector id, a number out
            # of a column's range): its message, not our storage, is at fault.
            await self._send(
                call_error_frame(
                    msg.unique_id,
                    "PropertyConstraintViolation",
                    f"a value of this {msg.action} is outside what SIGEC-VE accepts "
                    "(ids are 0 or more, numbers within their field's range)",
                    self.protocol,
                )
            )
        except Exception:
            log.exception("%s: %s could not be stored", self.id, msg.action)
            await self._send(
                call_error_frame(
                    msg.unique_id,
                    "InternalError",
                    "the message could not be stored; send it again",
                    self.protocol,
                )
            )

    async def _handle_send(self, msg: Send) -> None:
        """Store a SEND as it came. Nothing goes back, whatever happens: the spec forbids an
        answer to a SEND, even an error, so problems are only logged."""
        if msg.action not in self.send_actions:
            log.warning(
                "%s sent %s as a SEND, which OCPP %s does not allow; dropped",
                self.id,
                msg.action,
                self._ocpp_version,
            )
            return
        try:
            await validate_payload(msg, self._ocpp_version)  # type: ignore[arg-type]
        except OCPPError as e:
            log.warning("%s: invalid %s dropped: %s", self.id, msg.action, e.details or e)
            return

        async def store() -> None:
            await self.repos.events.add(self.id, self.protocol, msg.action, msg.payload)

        try:
            await self.commits.run(store)
        except Exception:
            log.exception("%s: %s could not be stored", self.id, msg.action)

    async def call_action(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict:
        """Send `action` with `payload` exactly as given; the charger's reply payload."""
        if action not in self.csms_initiated_actions:
            raise InvalidInput(
                f"{action!r} is not a command a central system sends to an OCPP "
                f"{self._ocpp_version} charger; one of: "
                f"{', '.join(sorted(self.csms_initiated_actions))}"
            )
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

    async def boot_answer(self) -> tuple[str, int]:
        """(the BootNotification status, its interval) for this station now. One waiting
        for approval is looked up again (an operator may just have approved it); once
        approved, its boot starts its onboarding after the reply."""
        if self.registration_status != "Accepted":
            row = await self.repos.charge_points.get_row(self.id)
            if row is not None:
                self.registration_status = row["registration_status"]
                self.approved = row["approved_at"] is not None
        status, onboard = boot_answer(self.registration_status, self.approved)
        if onboard and self._on_approved_boot is not None:
            callback, cp_id = self._on_approved_boot, self.id
            after_commit(lambda: callback(cp_id))
        return status, self.heartbeat_interval_s if status == "Accepted" else self.boot_retry_s

    def heartbeat_seen(self) -> str:
        """Note a heartbeat (written in the next batch); the time to answer it with."""
        now = utc_now()
        self.heartbeats.add((self.id, now))
        return format_timestamp(now)

    def charging_changed(self) -> None:
        """A session started, ended or changed its demand: once committed, the site's
        smart-charging plan is out of date."""
        if self._on_charging_change is not None:
            callback, cp_id = self._on_charging_change, self.id
            after_commit(lambda: callback(cp_id))

    def power_observed(self, transaction_id: int | str | None, samples: list) -> None:
        """A session's measured power: once committed, its site checks it against the plan."""
        power_kw = last_active_power_kw(samples)
        if self._on_power is not None and transaction_id is not None and power_kw is not None:
            callback, cp_id = self._on_power, self.id
            after_commit(lambda: callback(cp_id, transaction_id, power_kw))

    def current_payload(self) -> dict[str, Any]:
        """The payload of the CALL being handled, exactly as the charger sent it."""
        assert self._current_call is not None
        return self._current_call.payload


def _reporting_failures(handler: Callable) -> Callable:
    """`handler`, noting its exception on the session. The `ocpp` router answers a failing
    handler with a CALLERROR and swallows the exception; the group commit must see it to roll
    back that message's writes alone."""

    @functools.wraps(handler)
    async def wrapped(self: CentralSystemSession, *args: Any, **kwargs: Any) -> Any:
        try:
            result = handler(self, *args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        except Exception as e:
            self._handler_error = e
            raise

    # The router asks for the handler's signature on every call; this answers at once.
    wrapped.__signature__ = inspect.signature(handler)  # type: ignore[attr-defined]
    wrapped._reports_failures = True  # type: ignore[attr-defined]
    return wrapped


def stored_notification(action: StrEnum, reply: Callable[[], Any]) -> Callable:
    """A handler that stores the message as it came and answers `reply()`.

    Assign it to the class attribute `on_<action member name>`: the `ocpp` router finds
    handlers by the function's name.
    """

    async def handler(self: CentralSystemSession, **_: Any) -> Any:
        await self.repos.events.add(self.id, self.protocol, str(action), self.current_payload())
        return reply()

    handler.__name__ = handler.__qualname__ = f"on_{action.name}"
    return on(action)(handler)
