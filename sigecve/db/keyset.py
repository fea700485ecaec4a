"""Keyset pagination in SQL: `ORDER BY (sort, id)` and `WHERE (sort, id) > cursor`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeysetOrder:
    """How one list is sorted: a SQL expression (never NULL: COALESCE it) and the id column,
    with the Python types of both (to check cursors)."""

    sort_expr: str
    sort_type: type
    id_expr: str
    id_type: type
    descending: bool
    null_as: Any = None  # what the sort expression COALESCEs a NULL field to

    def where(self, after: tuple[Any, Any] | None, params: dict[str, Any]) -> str:
        if after is None:
            return "TRUE"
        params["_after_sort"], params["_after_id"] = after
        op = "<" if self.descending else ">"
        return f"({self.sort_expr}, {self.id_expr}) {op} (%(_after_sort)s, %(_after_id)s)"

    def order_by(self) -> str:
        way = "DESC" if self.descending else "ASC"
        return f"{self.sort_expr} {way}, {self.id_expr} {way}"


def keyset(
    sort: str, columns: dict[str, tuple[Any, ...]], id_column: tuple[str, type]
) -> KeysetOrder:
    """`sort` is a field name, `-` first for descending; `columns` maps names to (SQL, type)
    or, for a field that may be NULL, (SQL, type, the value it sorts as)."""
    sort_expr, sort_type, *null_as = columns[sort.removeprefix("-")]
    if null_as:
        sort_expr = f"COALESCE({sort_expr}, {null_as[0]!r})"
    return KeysetOrder(
        sort_expr, sort_type, *id_column, sort.startswith("-"), null_as[0] if null_as else None
    )
