"""Minimal schema-valid OCPP payloads, generated from the `ocpp` package's own JSON schemas.

Every message of both versions can then be sent in both directions without a hand-written
payload per message; a payload the generator gets wrong fails the schema check it came from.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import ocpp

SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201"}
TIMESTAMP = "2026-11-25T10:00:00Z"


@cache
def schema(version: str, action: str, kind: str) -> dict:
    """kind: 'request' or 'response'."""
    name = action
    if kind == "response":
        name += "Response"
    elif version != "1.6":
        name += "Request"
    path = Path(ocpp.__file__).parent / SCHEMA_DIRS[version] / "schemas" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8-sig"))


def sample(version: str, action: str, kind: str) -> dict:
    root = schema(version, action, kind)
    return _instance(root, root)


def _instance(node: dict, root: dict) -> Any:
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _instance(target, root)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {k: _instance(props[k], root) for k in node.get("required", [])}
    if kind == "array":
        return [_instance(node["items"], root) for _ in range(max(1, node.get("minItems", 0)))]
    if kind == "string":
        if node.get("format") == "date-time":
            return TIMESTAMP
        return "x" * max(1, node.get("minLength", 1))
    if kind == "integer":
        return max(node.get("minimum", 1), 1) if node.get("minimum", 1) >= 0 else 1
    if kind == "number":
        return float(max(node.get("minimum", 1), 1))
    if kind == "boolean":
        return True
    raise ValueError(f"cannot make a sample of {node}")
