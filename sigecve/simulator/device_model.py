"""The device model of a simulated 2.0.1 / 2.1 station: a few of the standard components and
variables of OCPP 2.0.1 Part 2 (appendix 3), with their characteristics, kept and checked the
way a station does (written from the spec, not from the CSMS's code, so tests of the CSMS
against it are tests against a second implementation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TX_START_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,PowerPathClosed,EnergyTransfer"


@dataclass
class SimulatedVariable:
    component: str
    variable: str
    value: str
    data_type: str
    mutability: str = "ReadWrite"
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    unit: str | None = None
    evse_id: int | None = None
    supports_monitoring: bool = False

    def report_entry(self) -> dict[str, Any]:
        """This variable as NotifyReport's reportData has it (snake_case, for the package)."""
        component: dict[str, Any] = {"name": self.component}
        if self.evse_id is not None:
            component["evse"] = {"id": self.evse_id}
        characteristics: dict[str, Any] = {
            "data_type": self.data_type,
            "supports_monitoring": self.supports_monitoring,
        }
        for name in ("min_limit", "max_limit", "values_list", "unit"):
            if getattr(self, name) is not None:
                characteristics[name] = getattr(self, name)
        attribute: dict[str, Any] = {"type": "Actual", "mutability": self.mutability}
        if self.mutability != "WriteOnly":  # a write-only value is never reported
            attribute["value"] = self.value
        return {
            "component": component,
            "variable": {"name": self.variable},
            "variable_attribute": [attribute],
            "variable_characteristics": characteristics,
        }

    def refuses(self, value: str) -> bool:
        """Whether the station answers Rejected to setting `value` (OCPP B05.FR.04/05)."""
        if self.mutability == "ReadOnly":
            return True
        if self.data_type == "integer":
            if not value.lstrip("-").isdigit():
                return True
            number = int(value)
            return (self.min_limit is not None and number < self.min_limit) or (
                self.max_limit is not None and number > self.max_limit
            )
        if self.data_type == "boolean":
            return value not in ("true", "false")
        if self.data_type == "MemberList":
            allowed = set((self.values_list or "").split(","))
            members = value.split(",")
            return not set(members) <= allowed or len(set(members)) != len(members)
        if self.data_type == "OptionList":
            return value not in (self.values_list or "").split(",")
        return False


@dataclass
class SimulatedDeviceModel:
    variables: list[SimulatedVariable] = field(default_factory=list)
    items_per_message: int = 4  # DeviceDataCtrlr.ItemsPerMessage: a report comes in parts

    @classmethod
    def standard(cls, model: str, firmware: str, evses: int) -> SimulatedDeviceModel:
        v = SimulatedVariable
        return cls(
            [
                v("ChargingStation", "Model", model, "string", "ReadOnly"),
                v("ChargingStation", "VendorName", "SIGEC-VE", "string", "ReadOnly"),
                v("ChargingStation", "FirmwareVersion", firmware, "string", "ReadOnly"),
                v(
                    "OCPPCommCtrlr",
                    "HeartbeatInterval",
                    "300",
                    "integer",
                    min_limit=1,
                    max_limit=86400,
                    unit="s",
                ),
                v(
                    "SampledDataCtrlr",
                    "TxUpdatedInterval",
                    "60",
                    "integer",
                    min_limit=0,
                    max_limit=3600,
                    unit="s",
                ),
                v(
                    "TxCtrlr",
                    "TxStartPoint",
                    "PowerPathClosed",
                    "MemberList",
                    values_list=TX_START_POINTS,
                ),
                v("TxCtrlr", "StopTxOnEVSideDisconnect", "true", "boolean"),
                v("AuthCtrlr", "AuthorizeRemoteStart", "true", "boolean"),
                v("SecurityCtrlr", "SecurityProfile", "1", "integer", "ReadOnly"),
                v("SecurityCtrlr", "BasicAuthPassword", "", "string", "WriteOnly", max_limit=40),
                v("DeviceDataCtrlr", "ItemsPerMessage", "4", "integer", "ReadOnly"),
                *(
                    v(
                        "EVSE",
                        "Power",
                        "22000",
                        "decimal",
                        "ReadOnly",
                        unit="W",
                        evse_id=e,
                        supports_monitoring=True,
                    )
                    for e in range(1, evses + 1)
                ),
            ]
        )

    def find(self, component: str, variable: str) -> SimulatedVariable | None:
        return next(
            (
                x
                for x in self.variables
                if x.component == component and x.variable == variable and x.evse_id is None
            ),
            None,
        )

    def find_at(
        self, component: str, variable: str, evse_id: int | None
    ) -> SimulatedVariable | None:
        """The variable of the component on that EVSE (None: of the station)."""
        return next(
            (
                x
                for x in self.variables
                if (x.component, x.variable, x.evse_id) == (component, variable, evse_id)
            ),
            None,
        )

    def knows_component(self, component: str) -> bool:
        return any(x.component == component for x in self.variables)

    def report_parts(self) -> list[list[dict[str, Any]]]:
        """The whole model as NotifyReport reportData lists, `items_per_message` each."""
        entries = [x.report_entry() for x in self.variables]
        n = self.items_per_message
        return [entries[i : i + n] for i in range(0, len(entries), n)]


@dataclass
class SimulatedMonitor:
    """A monitor the station holds (OCPP 2.0.1 Part 2, N04): on one variable, with a type,
    a value and a severity; `alerting` while its threshold is crossed."""

    id: int
    component: dict[str, Any]
    variable: dict[str, Any]
    type: str
    value: float
    severity: int
    transaction: bool = False
    alerting: bool = False

    def crossed(self, reading: float) -> bool:
        if self.type == "UpperThreshold":
            return reading > self.value
        if self.type == "LowerThreshold":
            return reading < self.value
        return False
