"""What the CSMS sends a charger, per OCPP version: the builders of `outbound_v16`,
`outbound_v201` and `outbound_v21` share this face, so the version-neutral `Commander` picks
a module by the charger's protocol and never branches on it (pure)."""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case


class OutboundCall(NamedTuple):
    action: str
    payload: dict[str, Any]


def outbound(message: Any, **given: Any) -> OutboundCall:
    """An `ocpp` call dataclass as the charger is sent it, built as the package's own
    `call()` builds it. `given`: camelCase fields taken as the operator wrote them (a
    charging profile), which the package's key renaming must not touch."""
    payload = remove_nones(snake_to_camel_case(serialize_as_dict(message)))
    return OutboundCall(type(message).__name__, {**payload, **given})


def messages_for(protocol: str) -> ModuleType:
    """The builders of the charger's version (`ocpp1.6`, `ocpp2.0.1` or `ocpp2.1`)."""
    from sigecve.ocpp import outbound_v16, outbound_v21, outbound_v201

    modules = {m.PROTOCOL: m for m in (outbound_v16, outbound_v201, outbound_v21)}
    if protocol not in modules:
        raise ValueError(f"no OCPP version {protocol!r}; one of {', '.join(modules)}")
    return modules[protocol]
