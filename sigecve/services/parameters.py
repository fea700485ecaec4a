"""Parameters REST and MCP share, each written once with its bounds, so both interfaces
accept the same values (tests/test_mcp.py compares the twins' schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import StringConstraints

CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,48}$"
MAX_PAGE = 1000

ChargePointId = Annotated[
    str, StringConstraints(min_length=1, max_length=48, pattern=CHARGE_POINT_ID_PATTERN)
]
SiteId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
IdTagValue = Annotated[str, StringConstraints(min_length=1, max_length=36)]
# An opaque `next_cursor` (sigecve.services.pagination): URL-safe base64.
Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")
]
PageSize = Annotated[int, Ge(1), Le(MAX_PAGE)]
TransactionSort = Literal["id", "-id", "started_at", "-started_at"]
# A fleet query's condition on the stored device model: `Component.Variable=Value`.
VariableCondition = Annotated[str, StringConstraints(min_length=2, max_length=300)]
MAX_CONDITIONS = 10
FirmwareVersion = Annotated[str, StringConstraints(min_length=1, max_length=50)]
