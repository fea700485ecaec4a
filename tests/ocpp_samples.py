"""Minimal schema-valid OCPP payloads, generated from the `ocpp` package's own JSON schemas.

Every message of every version can then be sent in both directions without a hand-written
payload per message; a payload the generator gets wrong fails the schema check it came from.
"""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import ocpp

SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}
TIMESTAMP = "2026-11-25T10:00:00Z"


@cache
def schema(version: str, action: str, kind: str) -> dict:
    """kind: 'request', 'response' or 'send' (2.1's SEND, whose schema has no suffix)."""
    name = action
    if kind == "response":
        name += "Response"
    elif version != "1.6" and kind == "request":
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
        return int(max(node.get("minimum", 1), 1)) if node.get("minimum", 1) >= 0 else 1
    if kind == "number":
        return float(max(node.get("minimum", 1), 1))
    if kind == "boolean":
        return True
    raise ValueError(f"cannot make a sample of {node}")


def random_sample(version: str, action: str, kind: str, rng: random.Random) -> dict:
    """A random schema-valid payload: optional fields or not, any enum value, strings of any
    length and characters the schema allows, integers and numbers across their whole range."""
    root = schema(version, action, kind)
    return _random(root, root, rng)


def _random(node: dict, root: dict, rng: random.Random) -> Any:
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _random(target, root, rng)
    if "enum" in node:
        return rng.choice(node["enum"])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        required = set(node.get("required", []))
        return {
            k: _random(v, root, rng)
            for k, v in props.items()
            if k in required or rng.random() < 0.5
        }
    if kind == "array":
        low = node.get("minItems", 0)
        high = min(node.get("maxItems", low + 3), low + 3)
        return [_random(node["items"], root, rng) for _ in range(rng.randint(low, high))]
    if kind == "string":
        if node.get("format") == "date-time":
            year, month, day = rng.choice((1970, 2000, 2026, 2099)), rng.randint(1, 12), 1
            return f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:00:00Z"
        length = rng.randint(node.get("minLength", 0), min(node.get("maxLength", 40), 60))
        alphabet = "abcXYZ019 -_/\\'\"%$\u00e9\u4e2d\U0001f600\u0000"
        return "".join(rng.choice(alphabet) for _ in range(length))
    if kind == "integer":
        low = int(node.get("minimum", -(2**31)))
        high = int(node.get("maximum", 2**31 - 1))
        return rng.choice((low, high, 0 if low <= 0 <= high else low, rng.randint(low, high)))
    if kind == "number":
        low = node.get("minimum", -1e9)
        high = node.get("maximum", 1e9)
        return rng.choice((float(low), float(high), round(rng.uniform(low, high), 3)))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind is None:  # any JSON (DataTransfer's data)
        return rng.choice(("text", 42, [1, "two"], {"k": None}))
    raise ValueError(f"cannot make a sample of {node}")
