"""The device model: what a charger says it is made of and how it is configured (pure).

OCPP 2.0.1 and 2.1 describe a station as components (the station, its EVSEs and connectors,
controllers such as `TxCtrlr`), each with variables; a variable has attributes (Actual,
Target, MinSet, MaxSet), each with a value and a mutability, and characteristics (data type,
unit, limits, the values allowed). Reports (NotifyReport) and answers to GetVariables and
SetVariables fill it in; a 1.6 charger's configuration keys are variables of the component
named "" (a 1.6 key is its own name). Everything here reads the payloads as chargers send
them (camelCase) and decides; storing is the repository's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

# 1.6 configuration keys have no component: they live under this one.
OCPP16_COMPONENT = ""
# Credentials: their values are never kept, even when the charger takes or reports them.
SECRET_VARIABLES = frozenset(
    {("SecurityCtrlr", "BasicAuthPassword"), (OCPP16_COMPONENT, "AuthorizationKey")}
)
# GetVariables / SetVariables answers that mean the charger holds the value it gave or took.
VALUE_TAKEN = frozenset({"Accepted", "RebootRequired"})


class VariableAttribute(BaseModel):
    type: str = Field(default="Actual", description="Actual, Target, MinSet or MaxSet")
    value: str | None = None
    mutability: str | None = Field(
        default=None, description="ReadOnly, WriteOnly or ReadWrite (as the charger said)"
    )
    persistent: bool | None = None
    constant: bool | None = None
    status: str | None = Field(
        default=None,
        description="the charger's last answer to reading or setting it (Accepted, Rejected, "
        "RebootRequired, ...); null when the value came in a report",
    )
    updated_at: datetime | None = None


class VariableCharacteristics(BaseModel):
    data_type: str | None = Field(
        default=None,
        description="string, decimal, integer, dateTime, boolean, OptionList, SequenceList, "
        "MemberList",
    )
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = Field(default=None, description="comma-separated allowed values")
    supports_monitoring: bool | None = None


class Variable(BaseModel):
    """One variable of one component as the charger reported it."""

    component: str = Field(description='the component\'s name ("" for a 1.6 key)')
    component_instance: str = ""
    evse_id: int = Field(default=0, description="0: the station itself")
    connector_id: int = 0
    variable: str
    variable_instance: str = ""
    characteristics: VariableCharacteristics | None = None
    attributes: list[VariableAttribute] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """`Component.Variable` (a 1.6 key as it is): how the API names it."""
        return f"{self.component}.{self.variable}" if self.component else self.variable

    def attribute(self, type_: str = "Actual") -> VariableAttribute | None:
        return next((a for a in self.attributes if a.type == type_), None)


def component_fields(component: dict) -> dict:
    """A 2.x component object (camelCase) as the fields SIGEC-VE stores it by."""
    evse = component.get("evse") or {}
    return {
        "component": component["name"],
        "component_instance": component.get("instance") or "",
        "evse_id": evse.get("id", 0),
        "connector_id": evse.get("connectorId", 0),
    }


def variables_from_report(report_data: Iterable[dict]) -> list[Variable]:
    """The variables of a NotifyReport part's `reportData` (2.0.1 and 2.1)."""
    out = []
    for item in report_data:
        characteristics = item.get("variableCharacteristics")
        out.append(
            Variable(
                **component_fields(item["component"]),
                variable=item["variable"]["name"],
                variable_instance=item["variable"].get("instance") or "",
                characteristics=VariableCharacteristics(
                    data_type=characteristics.get("dataType"),
                    unit=characteristics.get("unit"),
                    min_limit=characteristics.get("minLimit"),
                    max_limit=characteristics.get("maxLimit"),
                    values_list=characteristics.get("valuesList"),
                    supports_monitoring=characteristics.get("supportsMonitoring"),
                )
                if characteristics
                else None,
                attributes=[
                    VariableAttribute(
                        type=a.get("type", "Actual"),
                        value=a.get("value"),
                        mutability=a.get("mutability", "ReadWrite"),
                        persistent=a.get("persistent"),
                        constant=a.get("constant"),
                    )
                    for a in item.get("variableAttribute") or []
                ],
            )
        )
    return out


def variables_from_get_variables(results: Iterable[dict]) -> list[Variable]:
    """What a GetVariables answer tells of each variable it names: its value where the
    charger gave one, and the status it answered (unknown components and variables are not
    variables of the charger, so they are left out)."""
    out = []
    for r in results:
        if r.get("attributeStatus") in ("UnknownComponent", "UnknownVariable"):
            continue
        out.append(
            Variable(
                **component_fields(r["component"]),
                variable=r["variable"]["name"],
                variable_instance=r["variable"].get("instance") or "",
                attributes=[
                    VariableAttribute(
                        type=r.get("attributeType", "Actual"),
                        value=r.get("attributeValue")
                        if r.get("attributeStatus") in VALUE_TAKEN
                        else None,
                        status=r.get("attributeStatus"),
                    )
                ],
            )
        )
    return out


def variables_from_set_variables(sent: Iterable[dict], results: Iterable[dict]) -> list[Variable]:
    """What a SetVariables answer tells: the value sent where the charger took it, and each
    variable's answer (taken or not). `sent`: the request's setVariableData."""
    values = {
        (
            d["component"]["name"],
            d["variable"]["name"],
            d.get("attributeType", "Actual"),
        ): d["attributeValue"]
        for d in sent
    }
    out = []
    for r in results:
        if r.get("attributeStatus") in ("UnknownComponent", "UnknownVariable"):
            continue
        type_ = r.get("attributeType", "Actual")
        taken = r.get("attributeStatus") in VALUE_TAKEN
        value = values.get((r["component"]["name"], r["variable"]["name"], type_))
        out.append(
            Variable(
                **component_fields(r["component"]),
                variable=r["variable"]["name"],
                variable_instance=r["variable"].get("instance") or "",
                attributes=[
                    VariableAttribute(
                        type=type_, value=value if taken else None, status=r["attributeStatus"]
                    )
                ],
            )
        )
    return out


def variables_from_configuration_16(configuration_keys: Iterable[dict]) -> list[Variable]:
    """A 1.6 GetConfiguration answer's `configurationKey` list, as variables."""
    return [
        Variable(
            component=OCPP16_COMPONENT,
            variable=k["key"],
            attributes=[
                VariableAttribute(
                    value=k.get("value"),
                    mutability="ReadOnly" if k.get("readonly") else "ReadWrite",
                    status="Accepted",
                )
            ],
        )
        for k in configuration_keys
    ]


def variable_from_change_16(key: str, value: str, status: str) -> Variable:
    """A 1.6 ChangeConfiguration and its answer, as a variable."""
    taken = status in VALUE_TAKEN
    return Variable(
        component=OCPP16_COMPONENT,
        variable=key,
        attributes=[VariableAttribute(value=value if taken else None, status=status)],
    )


def without_secrets(variables: Iterable[Variable]) -> list[Variable]:
    """The variables with the values of credentials and write-only attributes left out."""
    out = []
    for v in variables:
        secret = (v.component, v.variable) in SECRET_VARIABLES
        if secret or any(a.mutability == "WriteOnly" and a.value for a in v.attributes):
            v = v.model_copy(
                update={
                    "attributes": [
                        a.model_copy(update={"value": None})
                        if secret or a.mutability == "WriteOnly"
                        else a
                        for a in v.attributes
                    ]
                }
            )
        out.append(v)
    return out


def split_key(key: str) -> tuple[str, str]:
    """(component, variable) of `Component.Variable`; a 1.6 key (no dot) is its own variable."""
    component, dot, variable = key.partition(".")
    return (component, variable) if dot else (OCPP16_COMPONENT, key)


def value_problem(stored: Variable, value: str, attribute_type: str = "Actual") -> str | None:
    """Why `value` cannot be set on `stored` as the charger described it, or None if it can.
    Checked: mutability, data type, limits (for a string, its length), the allowed values."""
    attribute = stored.attribute(attribute_type)
    if attribute is not None and attribute.mutability == "ReadOnly":
        return f"{stored.key} is read-only on this charger"
    c = stored.characteristics
    if c is None or c.data_type is None:
        return None
    low, high = c.min_limit, c.max_limit
    kind = c.data_type
    if kind in ("integer", "decimal"):
        try:
            number = int(value) if kind == "integer" else float(value)
        except ValueError:
            return f"{stored.key} takes an {kind}, not {value!r}"
        if isinstance(number, float) and not math.isfinite(number):
            return f"{stored.key} takes a finite number"
        if low is not None and number < low:
            return f"{stored.key} is at least {low:g} on this charger"
        if high is not None and number > high:
            return f"{stored.key} is at most {high:g} on this charger"
    elif kind == "boolean":
        if value not in ("true", "false"):
            return f"{stored.key} takes true or false, not {value!r}"
    elif kind == "dateTime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"{stored.key} takes an ISO 8601 date and time, not {value!r}"
    elif kind == "string":
        if high is not None and len(value) > high:
            return f"{stored.key} is at most {high:g} characters on this charger"
        if low is not None and len(value) < low:
            return f"{stored.key} is at least {low:g} characters on this charger"
    elif kind in ("OptionList", "SequenceList", "MemberList"):
        allowed = [v.strip() for v in (c.values_list or "").split(",") if v.strip()]
        chosen = [value] if kind == "OptionList" else [v.strip() for v in value.split(",")]
        wrong = [v for v in chosen if allowed and v not in allowed]
        if wrong:
            return f"{stored.key} takes one of {', '.join(allowed)}; not {', '.join(wrong)}"
        if kind == "MemberList" and len(set(chosen)) != len(chosen):
            return f"{stored.key} names each member once"
    return None


def report_complete(parts: Iterable[int], last_seq_no: int | None) -> bool:
    """Whether a multi-part report is whole: the part that said none would follow is in, and
    every part before it (parts may come in any order, and twice)."""
    if last_seq_no is None or last_seq_no < 0:
        return False
    # Counted, not enumerated: a seqNo may be as large as 2**31 - 1.
    return len({p for p in parts if 0 <= p <= last_seq_no}) == last_seq_no + 1


def parse_condition(condition: str) -> tuple[str, str, str]:
    """(component, variable, value) of `Component.Variable=Value` (a 1.6 `Key=Value` has the
    component ""); ValueError naming what is wrong."""
    key, eq, value = condition.partition("=")
    if not eq or not key:
        raise ValueError(f"{condition!r}: write a condition as Component.Variable=Value")
    component, variable = split_key(key)
    if not variable:
        raise ValueError(f"{condition!r}: the variable's name is missing")
    return component, variable, value
