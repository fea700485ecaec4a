"""A simulated OCPP 1.6J charge point (the `ocpp` package's client side) with realistic sessions."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from math import inf
from typing import Any

import websockets
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ConfigurationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
)

from sigecve.ocpp.timestamps import now_timestamp
from sigecve.simulator.failure_modes import FAULT_CODE, Degradation, amps_of
from sigecve.simulator.metrics import LatencyHistogram
from sigecve.smart_charging.profiles import profile_limit_kw

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailurePlan:
    """A charger that degrades in `mode` from `starts_at` (time.monotonic()) over
    `precursor_s` seconds, then faults and stays faulted."""

    mode: str
    starts_at: float
    precursor_s: float

    def degradation(self, now: float) -> Degradation:
        if now < self.starts_at:
            return Degradation()
        return Degradation(self.mode, min(1.0, (now - self.starts_at) / self.precursor_s))

    @property
    def faults_at(self) -> float:
        return self.starts_at + self.precursor_s


UNITS = {"Current.Import": "A", "Temperature": "Celsius", "Power.Offered": "W"}
SESSIONS_PER_DAY = 4.0  # of the generated fleet; error codes a day are spread over them


@dataclass
class SimulationProfile:
    """How a simulated charger behaves; defaults give a lively demo, not a day-long trace."""

    connectors: int = 2
    heartbeat_s: float | None = None  # None: the interval the CSMS gives at boot
    meter_interval_s: float = 10.0
    session_s: tuple[float, float] = (60.0, 180.0)
    idle_s: tuple[float, float] = (5.0, 60.0)
    power_kw: tuple[float, float] = (3.7, 22.0)
    id_tags: tuple[str, ...] = ("DEMO-TAG",)
    max_power_kw: float = 22.0  # offered to the EV (Power.Offered)
    failure: FailurePlan | None = None
    # The share of chargers whose first connector starts a session as soon as they boot: a
    # fleet observed mid-day, not one whose first arrivals are hours away.
    charging_at_start: float = 0.0
    # 2.1 stations: the EV asks for bidirectional power (NotifyEVChargingNeeds, DC_BPT) with
    # its departure (the session's end), a target of its whole session at its power, and up
    # to this many kWh of its arrival charge to give (0: it only charges).
    v2x_give_kwh: float = 0.0


# A day's behaviour for scale runs: the CSMS's heartbeat interval (300 s), meter values every
# minute while charging, sessions of 0.5-3 h between idle spells of 15 min to 4 h.
REALISTIC = SimulationProfile(
    meter_interval_s=60.0, session_s=(1_800.0, 10_800.0), idle_s=(900.0, 14_400.0)
)


@dataclass
class SimulationCounters:
    connected: int = 0
    boots: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    refused_tags: int = 0
    errors: int = 0  # connections that failed to open or to boot
    drops: int = 0  # connections lost after boot, not closed by the simulator
    call_errors: int = 0  # calls answered with a CALLERROR or not at all
    # The same, per "Action: CALLERROR code" or "Action: exception" (a timeout, a closing).
    call_error_kinds: Counter[str] = field(default_factory=Counter, repr=False)
    # Errors and drops per "error: kind" / "drop: kind" (an HTTP status, an exception).
    failure_kinds: Counter[str] = field(default_factory=Counter, repr=False)
    reconnects: int = 0
    messages: int = 0
    last_error: str | None = field(default=None, repr=False)
    # Per action: from sending a call to its reply.
    round_trips: dict[str, LatencyHistogram] = field(default_factory=dict, repr=False)
    # The same, for replies once the ramp has ended and every charger has booted (the
    # steady state's: the ramp's last boots, still queued, are not in it).
    ramp_ends_at: float | None = field(default=None, repr=False)  # time.monotonic()
    steady: bool = field(default=False, repr=False)
    round_trips_after_ramp: dict[str, LatencyHistogram] = field(default_factory=dict, repr=False)
    # From opening the WebSocket to the BootNotification answered.
    connect_s: LatencyHistogram = field(default_factory=LatencyHistogram, repr=False)
    # Drops per 10 s since the run began (its start, time.monotonic()): when they came, to
    # set beside the faults of a run.
    started_at: float | None = field(default=None, repr=False)
    started_wall: float | None = field(default=None, repr=False)  # time.time(), for the report
    drops_per_10s: Counter[int] = field(default_factory=Counter, repr=False)
    # Chargers booted at the end of each 10 s since the run began: when a fleet was back,
    # from the chargers' side (the CSMS's own count may lag when it is busy).
    booted_per_10s: dict[int, int] = field(default_factory=dict, repr=False)
    # Set when the run's report is taken: a call begun after it would reach the CSMS but
    # not the ledger (cancellation reaches the chargers' tasks only at their next step).
    frozen: bool = field(default=False, repr=False)

    def round_trip(self, action: str, seconds: float) -> None:
        self.round_trips.setdefault(action, LatencyHistogram()).record(seconds)
        if self.steady:
            self.round_trips_after_ramp.setdefault(action, LatencyHistogram()).record(seconds)

    def call_error(self, action: str, kind: str) -> None:
        self.call_errors += 1
        self.call_error_kinds[f"{action}: {kind}"] += 1

    def failure(self, booted: bool, error: BaseException) -> None:
        """A connection lost after boot (a drop), or one that failed to open or boot."""
        if booted:
            self.drops += 1
            if self.started_at is not None:
                self.drops_per_10s[int((time.monotonic() - self.started_at) // 10) * 10] += 1
        else:
            self.errors += 1
        self.failure_kinds[f"{'drop' if booted else 'error'}: {failure_kind(error)}"] += 1


def failure_kind(error: BaseException) -> str:
    """What made a connection fail, in a word: an HTTP status, else the exception's name."""
    while isinstance(error, BaseExceptionGroup):  # from the charger's task group
        error = error.exceptions[0]
    if isinstance(error, websockets.InvalidStatus):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


@dataclass
class Ledger:
    """What the CSMS acknowledged to one charger; the lab's checker finds each stored once."""

    started: dict[int, int] = field(default_factory=dict)  # transaction id -> connector
    stopped: set[int] = field(default_factory=set)
    meter_values: Counter[int] = field(default_factory=Counter)  # per transaction id
    carried: set[int] = field(default_factory=set)  # ongoing when a connection was lost

    def as_json(self) -> dict:
        return {
            "started": {str(t): c for t, c in sorted(self.started.items())},
            "stopped": sorted(self.stopped),
            "meter_values": {str(t): n for t, n in sorted(self.meter_values.items())},
            "carried": sorted(self.carried),
        }


@dataclass
class OngoingSession:
    """A charging session on one connector, kept across connections: a charger that
    reconnects goes on with the transaction it had, it does not start another."""

    id_tag: str
    wanted_w: float
    remaining_s: float
    meter_works: bool
    # 1.6: None until the CSMS answers its start; 2.x: the station names it at once.
    transaction_id: int | str | None = None
    accepted: bool | None = None  # the id tag, as the start's answer said
    counted: bool = False  # in counters.sessions_started
    seq_no: int = 0  # 2.x: the last TransactionEvent seqNo of this transaction
    ended: bool = False  # 2.x: its Ended is sent (or queued to be)


@dataclass
class ChargerMemory:
    """What a charger keeps across its connections, as a real one keeps it in flash."""

    energy_wh: dict[int, float]
    sessions: dict[int, OngoingSession] = field(default_factory=dict)
    # Transaction messages sent but not answered, with their connector, oldest first: sent
    # again, in order, before anything else after the next boot (OCPP 1.6 4.10/4.7).
    unacknowledged: list[tuple[int, Any]] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    booted: bool = False  # connected and booted right now
    # Connectors whose first session starts at the first boot (charging_at_start).
    arriving_at_once: set[int] = field(default_factory=set)
    # The ledger is kept for 1.6 (2.0.1 transaction events are sent once, not kept to resend).
    protocol: str = "ocpp1.6"

    @classmethod
    def new(cls, rng: random.Random, connectors: int) -> ChargerMemory:
        return cls({c: rng.randint(0, 5_000_000) for c in range(1, connectors + 1)})

    def connection_lost(self) -> None:
        self.booted = False
        self.ledger.carried.update(
            s.transaction_id for s in self.sessions.values() if s.transaction_id is not None
        )

    def report(self) -> dict:
        return {
            "protocol": self.protocol,
            "booted": self.booted,
            "unacknowledged": len(self.unacknowledged),
            **self.ledger.as_json(),
        }


class SimulatedCharger:
    """What simulated chargers of every version share: behaviour, counters, energy registers.

    Mixed into an `ocpp` ChargePoint class of one version, which supplies `boot`, `status`
    and `charging_session`.
    """

    def __init__(
        self,
        charge_point_id: str,
        connection,
        profile: SimulationProfile,
        counters: SimulationCounters,
        rng: random.Random,
        memory: ChargerMemory | None = None,
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=60)
        self.profile = profile
        self.counters = counters
        self.rng = rng
        self.memory = memory or ChargerMemory.new(rng, profile.connectors)
        # A TriggerMessage BootNotification while its boot is Pending: boot again now.
        self.boot_requested = asyncio.Event()
        self.booted = False
        # Per connector (1.6) or EVSE (2.0.1); fractional so slow charging still adds up.
        self.energy_wh: dict[int, float] = self.memory.energy_wh
        # Charging profile limits in W per connector (0: the whole charger), as the CSMS set.
        self.limits_w: dict[int, float] = {}
        # The charger's own thermal behaviour (failure_modes.Degradation.temperature_c).
        self.ambient_c = rng.uniform(12, 24)
        self.heat_c_per_a2 = rng.uniform(0.008, 0.012)

    def degradation(self) -> Degradation:
        plan = self.profile.failure
        return plan.degradation(time.monotonic()) if plan else Degradation()

    def faulted(self) -> bool:
        plan = self.profile.failure
        return plan is not None and time.monotonic() >= plan.faults_at

    def card_misread(self) -> bool:
        """The reader (or the connector) fails this start: the card is read wrong. Healthy
        simulated chargers never do, so a demo's or a test's sessions all charge."""
        degradation = self.degradation()
        if degradation.mode is None:
            return False
        return self.rng.random() < degradation.failed_start_probability()

    def readings(self, drawn_w: float) -> dict[str, float]:
        """What the charger measures besides energy while delivering `drawn_w`."""
        amps = amps_of(drawn_w)
        temperature = self.degradation().temperature_c(self.ambient_c, self.heat_c_per_a2, amps)
        return {
            "Current.Import": round(amps, 2),
            "Temperature": round(temperature + self.rng.gauss(0, 1.0), 1),
            "Power.Offered": self.profile.max_power_kw * 1000,
        }

    def error_code_now(self) -> str | None:
        """A code the degradation reports at this session's end, if any."""
        code, per_day = self.degradation().error_code_rate_per_day()
        return code if code and self.rng.random() < per_day / SESSIONS_PER_DAY else None

    async def failure_loop(self) -> None:
        """Fault when the failure plan says so, and stay faulted."""
        plan = self.profile.failure
        if plan is None:
            return
        await asyncio.sleep(max(0.0, plan.faults_at - time.monotonic()))
        await self.report_fault(FAULT_CODE[plan.mode])

    def drawn_w(self, connector: int, wanted_w: float) -> float:
        """What the EV draws: what it wants, within the charging profiles in force (a
        discharge setpoint draws nothing: the simulator meters import only)."""
        return max(0.0, self._limit_w(connector, wanted_w))

    def _limit_w(self, connector: int, wanted_w: float) -> float:
        return min(wanted_w, self.limits_w.get(connector, inf), self.limits_w.get(0, inf))

    def composite_limit_w(self, connector: int) -> float | None:
        """The limit the profiles in force put on `connector` (0: the whole charger; < 0: a
        discharge setpoint)."""
        limit = self._limit_w(connector, inf) if connector else self.limits_w.get(0, inf)
        return None if limit == inf else limit

    def new_session(self, id_tag: str) -> OngoingSession:
        p = self.profile
        return OngoingSession(
            id_tag=id_tag,
            wanted_w=self.rng.uniform(*p.power_kw) * 1000,
            remaining_s=self.rng.uniform(*p.session_s),
            meter_works=self.rng.random() >= self.degradation().zero_energy_probability(),
        )

    async def charging(self, connector: int, session: OngoingSession | None = None):
        """Charge for the rest of the session; yields the power drawn at every meter
        interval, with the energy register already advanced."""
        p = self.profile
        session = session or self.new_session("")
        while session.remaining_s > 0:
            step = min(p.meter_interval_s, session.remaining_s)
            await asyncio.sleep(step)
            session.remaining_s -= step
            drawn_w = self.degradation().drawn_w(self.drawn_w(connector, session.wanted_w))
            if session.meter_works:
                self.energy_wh[connector] += drawn_w * step / 3600
            yield drawn_w

    def apply_profile(self, connector: int, payload_snake_case: dict) -> None:
        self.limits_w[connector] = 1000 * profile_limit_kw(snake_to_camel_case(payload_snake_case))

    async def send(self, payload):
        """The call's reply; None if the CSMS answered with a CALLERROR."""
        if self.counters.frozen:
            await asyncio.Future()  # the run has ended: wait for the cancellation
        self.counters.messages += 1
        action = type(payload).__name__
        started = time.perf_counter()
        try:
            reply = await self.call(payload, suppress=False)
        except OCPPError as e:
            self.counters.call_error(action, f"{e.code}: {e.description}"[:120])
            return None
        except websockets.ConnectionClosed as e:
            if e.sent is None or e.rcvd_then_sent:  # not a closing this charger began
                self.counters.call_error(action, type(e).__name__)
            raise
        except Exception as e:
            self.counters.call_error(action, type(e).__name__)
            raise
        self.counters.round_trip(action, time.perf_counter() - started)
        return reply

    async def transaction_message(self, connector: int, payload):
        """Sent until the CSMS answers: kept in memory meanwhile, and sent again after a
        reconnection if the connection is lost first. The reply, once acknowledged."""
        entry = (connector, payload)
        self.memory.unacknowledged.append(entry)
        reply = await self._until_answered(payload)
        self.memory.unacknowledged.remove(entry)
        self.acknowledged(connector, payload, reply)
        return reply

    async def send_unacknowledged(self) -> None:
        """After a boot: the transaction messages the last connection left unanswered."""
        while self.memory.unacknowledged:
            connector, payload = self.memory.unacknowledged[0]
            reply = await self._until_answered(self.replayed(payload))
            self.memory.unacknowledged.pop(0)
            self.acknowledged(connector, payload, reply)

    def replayed(self, payload):
        """A queued transaction message as it is sent again after a reconnection."""
        return payload

    async def _until_answered(self, payload):
        # A CALLERROR means it was not stored (the database away): again, with backoff, as
        # OCPP's TransactionMessageAttempts/RetryInterval have a charger do.
        delay = 1.0
        while (reply := await self.send(payload)) is None:
            await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 30.0)
        return reply

    async def boot_until_accepted(self, payload) -> int:
        """The heartbeat interval of an Accepted boot. As OCPP has a charger do, the boot is
        sent again after a CALLERROR (with backoff) and after the interval a Pending or
        Rejected answer gives; the connection stays up meanwhile."""
        delay = 1.0
        while True:
            self.boot_requested.clear()
            reply = await self.send(payload)
            if reply is not None and reply.status == "Accepted":
                self.counters.boots += 1
                self.booted = True
                return int(reply.interval)
            wait = reply.interval if reply is not None and reply.interval > 0 else delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.boot_requested.wait(), wait * self.rng.uniform(0.5, 1.5)
                )
            delay = min(delay * 2, 30.0)

    def acknowledged(self, connector: int, payload, reply) -> None:
        """Book what the CSMS acknowledged (the version's own messages)."""

    async def heartbeat_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            degradation = self.degradation()
            if self.rng.random() < degradation.missed_heartbeat_probability():
                if self.rng.random() < degradation.disconnect_probability():
                    await self._connection.close()  # the link drops; the charger reconnects
                continue
            await self.send(self._call.Heartbeat())

    async def connector_loop(self, connector: int) -> None:
        # The first wait is a random phase of an idle spell, so arrivals spread out; a
        # session carried across a reconnection goes on at once.
        if connector in self.memory.arriving_at_once:
            self.memory.arriving_at_once.discard(connector)  # once; later ones idle first
        elif connector not in self.memory.sessions:
            await asyncio.sleep(self.rng.uniform(0, self.profile.idle_s[1]))
        while True:
            if self.faulted():
                return
            await self.charging_session(connector)
            code = self.error_code_now()
            if code is not None:
                await self.report_error(connector, code)
            await asyncio.sleep(self.rng.uniform(*self.profile.idle_s))


class SimulatedChargePoint16(SimulatedCharger, OcppChargePoint):
    """Sends what a real 1.6 charger sends and answers the central system's commands."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": "60",
            "NumberOfConnectors": str(self.profile.connectors),
        }
        self.read_only = {"NumberOfConnectors"}  # as the 1.6 spec (9.1) makes it
        self.local_list: dict[str, dict] = {}
        self.local_list_version = 0
        self.reservations: set[int] = set()

    # --- what the charger initiates ------------------------------------------------------

    async def boot(self) -> int:
        interval = await self.boot_until_accepted(
            call.BootNotification(
                charge_point_vendor="SIGEC-VE",
                charge_point_model="Simulator-1.6",
                charge_point_serial_number=f"SIM-{self.id}",
                firmware_version="1.0.0",
            )
        )
        for connector in range(0, self.profile.connectors + 1):
            await self.status(connector, ChargePointStatus.available)
        return interval

    async def status(
        self,
        connector: int,
        status: ChargePointStatus,
        error_code: ChargePointErrorCode = ChargePointErrorCode.no_error,
    ) -> None:
        if self.faulted() and status != ChargePointStatus.faulted:
            return  # a faulted charger stays so (sessions cut short report nothing else)
        await self.send(
            call.StatusNotification(
                connector_id=connector,
                error_code=error_code,
                status=status,
                timestamp=now_timestamp(),
            )
        )

    async def report_fault(self, code: str) -> None:
        await self.status(1, ChargePointStatus.faulted, ChargePointErrorCode(code))

    async def report_error(self, connector: int, code: str) -> None:
        await self.status(connector, ChargePointStatus.available, ChargePointErrorCode(code))

    async def charging_session(self, connector: int) -> None:
        session = self.memory.sessions.get(connector)
        if session is None:
            id_tag = self.rng.choice(self.profile.id_tags)
            if self.card_misread():
                # It starts on the tag it read (local pre-authorisation), without asking
                # first: the CSMS answers Invalid, and records the failed start.
                transaction_id = await self.start_session(connector, id_tag + "?", authorize=False)
            else:
                transaction_id = await self.start_session(connector, id_tag)
            session = self.memory.sessions.get(connector)
        elif session.transaction_id is None:
            return  # its start is not answered yet: sent again after the next boot
        else:  # carried across a reconnection: the same transaction goes on
            transaction_id = await self._begin(connector, session)
        if transaction_id is None or session is None:
            return
        async for drawn_w in self.charging(connector, session):
            await self.meter_values(connector, transaction_id, drawn_w)
        await self.stop(connector, transaction_id, "Local", session.id_tag)
        self.counters.sessions_stopped += 1

    async def start_session(
        self, connector: int, id_tag: str, *, authorize: bool = True
    ) -> int | None:
        """Authorize (unless told not to), start a transaction and report Charging; its id,
        or None if refused."""
        if authorize:
            auth = await self.send(call.Authorize(id_tag=id_tag))
            if auth is None or auth.id_tag_info["status"] != "Accepted":
                self.counters.refused_tags += 1
                return None
            await self.status(connector, ChargePointStatus.preparing)
        session = self.memory.sessions[connector] = self.new_session(id_tag)
        await self.transaction_message(
            connector,
            call.StartTransaction(
                connector_id=connector,
                id_tag=id_tag,
                meter_start=round(self.energy_wh[connector]),
                timestamp=now_timestamp(),
            ),
        )
        return await self._begin(connector, session)

    async def _begin(self, connector: int, session: OngoingSession) -> int | None:
        """A started transaction charges, or stops at once if its tag was refused."""
        assert session.transaction_id is not None
        if not session.accepted:
            self.counters.refused_tags += 1
            await self.stop(connector, session.transaction_id, "DeAuthorized")
            return None
        if not session.counted:
            session.counted = True
            self.counters.sessions_started += 1
        await self.status(connector, ChargePointStatus.charging)
        return session.transaction_id

    def acknowledged(self, connector: int, payload, reply) -> None:
        ledger = self.memory.ledger
        if isinstance(payload, call.StartTransaction):
            ledger.started[reply.transaction_id] = connector
            session = self.memory.sessions.get(connector)
            if session is not None:
                session.transaction_id = reply.transaction_id
                session.accepted = reply.id_tag_info["status"] == "Accepted"
        elif isinstance(payload, call.MeterValues) and payload.transaction_id is not None:
            ledger.meter_values[payload.transaction_id] += 1
        elif isinstance(payload, call.StopTransaction):
            ledger.stopped.add(payload.transaction_id)
            session = self.memory.sessions.get(connector)
            if session is not None and session.transaction_id == payload.transaction_id:
                del self.memory.sessions[connector]

    async def meter_values(self, connector: int, transaction_id: int, power_w: float) -> None:
        await self.transaction_message(
            connector,
            call.MeterValues(
                connector_id=connector,
                transaction_id=transaction_id,
                meter_value=[
                    {
                        "timestamp": now_timestamp(),
                        "sampled_value": [
                            {
                                "value": str(round(self.energy_wh[connector])),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                                "context": "Sample.Periodic",
                            },
                            {
                                "value": f"{power_w:.0f}",
                                "measurand": "Power.Active.Import",
                                "unit": "W",
                                "context": "Sample.Periodic",
                            },
                            *(
                                {
                                    "value": f"{value:g}",
                                    "measurand": measurand,
                                    "unit": UNITS[measurand],
                                    "context": "Sample.Periodic",
                                }
                                for measurand, value in self.readings(power_w).items()
                            ),
                        ],
                    }
                ],
            ),
        )

    async def stop(
        self, connector: int, transaction_id: int, reason: str, id_tag: str | None = None
    ) -> None:
        await self.status(connector, ChargePointStatus.finishing)
        await self.transaction_message(
            connector,
            call.StopTransaction(
                meter_stop=round(self.energy_wh[connector]),
                timestamp=now_timestamp(),
                transaction_id=transaction_id,
                reason=reason,
                id_tag=id_tag,
            ),
        )
        await self.status(connector, ChargePointStatus.available)

    # --- what the central system initiates -------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str):
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str):
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None):
        keys = key or list(self.configuration)
        known = [
            {"key": k, "readonly": k in self.read_only, "value": self.configuration[k]}
            for k in keys
            if k in self.configuration
        ]
        unknown = [k for k in keys if k not in self.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str):
        if key in self.read_only:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version: int, update_type: str, **kw):
        entries = kw.get("local_authorization_list") or []
        if update_type == "Differential" and list_version <= self.local_list_version:
            return call_result.SendLocalList(status="VersionMismatch")  # 1.6 5.15
        if update_type == "Full":
            self.local_list = {}
        for e in entries:
            if e.get("id_tag_info"):
                self.local_list[e["id_tag"]] = e["id_tag_info"]
            else:
                self.local_list.pop(e["id_tag"], None)
        self.local_list_version = list_version
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self):
        return call_result.GetLocalListVersion(list_version=self.local_list_version)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **kw):
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int):
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int):
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **kw):
        if requested_message == "BootNotification" and not self.booted:
            self.boot_requested.set()  # its Pending boot loop sends it now
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @on(Action.clear_cache)
    def on_clear_cache(self):
        return call_result.ClearCache(status="Accepted")

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_):
        return call_result.UpdateFirmware()

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id: int, reservation_id: int, **_):
        self.reservations.add(reservation_id)
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int):
        known = reservation_id in self.reservations
        self.reservations.discard(reservation_id)
        return call_result.CancelReservation(status="Accepted" if known else "Rejected")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict):
        self.apply_profile(connector_id, {"cs_charging_profiles": cs_charging_profiles})
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_):
        self.limits_w.clear()
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int, **_):
        limit = self.composite_limit_w(connector_id)
        if limit is None:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=now_timestamp(),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": round(limit, 1)}],
            },
        )


def basic_auth_header(charge_point_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def connect(
    url: str, charge_point_id: str, password: str | None, protocol: str = "ocpp1.6", **kwargs
):
    """An open WebSocket to the CSMS as this charge point (HTTP Basic when a password is given)."""
    headers = basic_auth_header(charge_point_id, password) if password else None
    return await websockets.connect(
        f"{url.rstrip('/')}/{charge_point_id}",
        subprotocols=[protocol],
        additional_headers=headers,
        open_timeout=30,
        **kwargs,
    )
