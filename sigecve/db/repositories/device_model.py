"""The device model as chargers reported it: variables, their attributes and characteristics,
and the reports (multi-part NotifyReport) they came in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection, transaction
from sigecve.db.keyset import KeysetOrder
from sigecve.db.repositories.base import Filters, Row, keyset_list
from sigecve.device_model import (
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    without_secrets,
)

_KEY = ("component", "component_instance", "evse_id", "connector_id", "variable",
        "variable_instance")  # fmt: skip


def _merged(variables: list[Variable]) -> dict[tuple, Variable]:
    """One variable per key (a report may name one twice; one statement may not touch a row
    twice): the later one's characteristics and attributes win."""
    out: dict[tuple, Variable] = {}
    for v in variables:
        key = tuple(getattr(v, k) for k in _KEY)
        if key in out:
            before = out[key]
            attributes = {a.type: a for a in before.attributes} | {a.type: a for a in v.attributes}
            v = v.model_copy(
                update={
                    "characteristics": v.characteristics or before.characteristics,
                    "attributes": list(attributes.values()),
                }
            )
        out[key] = v
    return out


class DeviceModelRepository:
    # Fleet queries list charge points by id.
    SORTS = {"charge_point_id": ("cp.id", str)}
    ID = ("cp.id", str)

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def store(self, charge_point_id: str, variables: list[Variable], at: datetime) -> None:
        """Variables and attributes as the charger gave them, in two statements. An attribute
        with a status (an answer to Get/SetVariables) keeps its stored value where it brings
        none (the charger did not take the new one); characteristics and mutability not
        given keep what an earlier report said."""
        merged = _merged(without_secrets(variables))
        if not merged:
            return
        rows = list(merged.values())
        chars = [r.characteristics or VariableCharacteristics() for r in rows]
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO device_model_variables AS v (charge_point_id, component,
                       component_instance, evse_id, connector_id, variable, variable_instance,
                       data_type, unit, min_limit, max_limit, values_list, supports_monitoring,
                       reported_at)
                   SELECT %s, u.*, %s::timestamptz
                   FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::text[],
                       %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[],
                       %s::text[], %s::bool[]) AS u
                   ON CONFLICT (charge_point_id, component, component_instance, evse_id,
                                connector_id, variable, variable_instance) DO UPDATE SET
                       data_type = COALESCE(EXCLUDED.data_type, v.data_type),
                       unit = COALESCE(EXCLUDED.unit, v.unit),
                       min_limit = COALESCE(EXCLUDED.min_limit, v.min_limit),
                       max_limit = COALESCE(EXCLUDED.max_limit, v.max_limit),
                       values_list = COALESCE(EXCLUDED.values_list, v.values_list),
                       supports_monitoring = COALESCE(EXCLUDED.supports_monitoring,
                                                      v.supports_monitoring),
                       reported_at = EXCLUDED.reported_at
                   RETURNING id, component, component_instance, evse_id, connector_id,
                             variable, variable_instance""",
                (
                    charge_point_id,
                    at,
                    *([getattr(r, k) for r in rows] for k in _KEY),
                    [c.data_type for c in chars],
                    [c.unit for c in chars],
                    [c.min_limit for c in chars],
                    [c.max_limit for c in chars],
                    [c.values_list for c in chars],
                    [c.supports_monitoring for c in chars],
                ),
            )
            ids = {tuple(row[k] for k in _KEY): row["id"] for row in await cur.fetchall()}
            attributes = [
                (ids[key], a) for key, variable in merged.items() for a in variable.attributes
            ]
            if not attributes:
                return
            await conn.execute(
                """INSERT INTO device_model_attributes AS a (variable_id, type, value, mutability,
                       persistent, constant, status, updated_at)
                   SELECT u.*, %s::timestamptz FROM unnest(%s::bigint[], %s::text[],
                       %s::text[], %s::text[], %s::bool[], %s::bool[], %s::text[]) AS u
                   ON CONFLICT (variable_id, type) DO UPDATE SET
                       value = CASE WHEN EXCLUDED.status IS NULL OR EXCLUDED.value IS NOT NULL
                                    THEN EXCLUDED.value ELSE a.value END,
                       mutability = COALESCE(EXCLUDED.mutability, a.mutability),
                       persistent = COALESCE(EXCLUDED.persistent, a.persistent),
                       constant = COALESCE(EXCLUDED.constant, a.constant),
                       status = EXCLUDED.status,
                       updated_at = EXCLUDED.updated_at""",
                (
                    at,
                    [i for i, _ in attributes],
                    [a.type for _, a in attributes],
                    [a.value for _, a in attributes],
                    [a.mutability for _, a in attributes],
                    [a.persistent for _, a in attributes],
                    [a.constant for _, a in attributes],
                    [a.status for _, a in attributes],
                ),
            )

    async def variables_of(
        self, charge_point_id: str, component: str | None = None, variable: str | None = None
    ) -> list[Variable]:
        """The charger's stored variables (those named, when a name is given), in order."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT v.*, COALESCE(json_agg(json_build_object(
                           'type', a.type, 'value', a.value, 'mutability', a.mutability,
                           'persistent', a.persistent, 'constant', a.constant,
                           'status', a.status, 'updated_at', a.updated_at) ORDER BY a.type)
                         FILTER (WHERE a.type IS NOT NULL), '[]') AS attributes
                   FROM device_model_variables v
                   LEFT JOIN device_model_attributes a ON a.variable_id = v.id
                   WHERE v.charge_point_id = %(cp)s
                     AND (%(component)s::text IS NULL OR v.component = %(component)s)
                     AND (%(variable)s::text IS NULL OR v.variable = %(variable)s)
                   GROUP BY v.id
                   ORDER BY v.component, v.component_instance, v.evse_id, v.connector_id,
                            v.variable, v.variable_instance""",
                {"cp": charge_point_id, "component": component, "variable": variable},
            )
            return [_variable(row) for row in await cur.fetchall()]

    async def report_requested(self, charge_point_id: str, request_id: int, base: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO device_model_reports (charge_point_id, request_id, requested,
                       requested_at) VALUES (%s, %s, %s, now())
                   ON CONFLICT (charge_point_id, request_id) DO UPDATE SET
                       requested = EXCLUDED.requested, requested_at = EXCLUDED.requested_at""",
                (charge_point_id, request_id, base),
            )

    async def report_part(
        self, charge_point_id: str, request_id: int, seq_no: int, last: bool, at: datetime
    ) -> Row:
        """Note a part of a report (a retried part counts once); the report as it now is."""
        async with transaction(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO device_model_reports AS r (charge_point_id, request_id, parts,
                       last_seq_no, first_part_at, last_part_at)
                   VALUES (%(cp)s, %(rid)s, ARRAY[%(seq)s], %(last)s, %(at)s, %(at)s)
                   ON CONFLICT (charge_point_id, request_id) DO UPDATE SET
                       parts = CASE WHEN %(seq)s = ANY(r.parts) THEN r.parts
                                    ELSE r.parts || %(seq)s END,
                       last_seq_no = COALESCE(EXCLUDED.last_seq_no, r.last_seq_no),
                       first_part_at = COALESCE(r.first_part_at, EXCLUDED.first_part_at),
                       last_part_at = EXCLUDED.last_part_at
                   RETURNING *""",
                {
                    "cp": charge_point_id,
                    "rid": request_id,
                    "seq": seq_no,
                    "last": seq_no if last else None,
                    "at": at,
                },
            )
            row = await cur.fetchone()
            assert row is not None
            return row

    async def report_completed(self, charge_point_id: str, request_id: int) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """UPDATE device_model_reports SET completed_at = now()
                   WHERE charge_point_id = %s AND request_id = %s AND completed_at IS NULL""",
                (charge_point_id, request_id),
            )

    async def reports_of(self, charge_point_id: str, limit: int = 10) -> list[Row]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT * FROM device_model_reports WHERE charge_point_id = %s
                   ORDER BY COALESCE(requested_at, first_part_at) DESC LIMIT %s""",
                (charge_point_id, limit),
            )
            return await cur.fetchall()

    async def find(
        self,
        conditions: list[tuple[str, str, str]],
        *,
        firmware_version: str | None,
        order: KeysetOrder,
        after: Any,
        limit: int,
    ) -> list[Row]:
        """Charge points whose stored Actual values meet every condition (component,
        variable, value), each with the values that matched, in keyset order."""
        filters = Filters().where("cp.firmware_version = {}", firmware_version)
        filters.always("cp.decommissioned_at IS NULL")
        matched = []
        for i, (component, variable, value) in enumerate(conditions):
            filters.params |= {f"_c{i}": component, f"_v{i}": variable, f"_x{i}": value}
            filters.always(
                f"""EXISTS (SELECT 1 FROM device_model_variables v
                      JOIN device_model_attributes a ON a.variable_id = v.id
                      WHERE v.charge_point_id = cp.id AND v.component = %(_c{i})s
                        AND v.variable = %(_v{i})s AND a.type = 'Actual'
                        AND a.value = %(_x{i})s)"""
            )
            matched.append(f"(v.component = %(_c{i})s AND v.variable = %(_v{i})s)")
        select = f"""SELECT cp.id, cp.vendor, cp.model, cp.firmware_version, cp.ocpp_protocol,
                       COALESCE((SELECT json_object_agg(
                            CASE WHEN v.component = '' THEN v.variable
                                 ELSE v.component || '.' || v.variable END, a.value)
                         FROM device_model_variables v
                         JOIN device_model_attributes a
                           ON a.variable_id = v.id AND a.type = 'Actual'
                         WHERE v.charge_point_id = cp.id
                           AND ({" OR ".join(matched) or "FALSE"})), '{{}}') AS "values"
                FROM charge_points cp"""
        return await keyset_list(self.pool, select, filters, order, after, limit)


def _variable(row: Row) -> Variable:
    characteristics = VariableCharacteristics(
        data_type=row["data_type"],
        unit=row["unit"],
        min_limit=row["min_limit"],
        max_limit=row["max_limit"],
        values_list=row["values_list"],
        supports_monitoring=row["supports_monitoring"],
    )
    return Variable(
        **{k: row[k] for k in _KEY},
        characteristics=characteristics if characteristics.model_dump(exclude_none=True) else None,
        attributes=[VariableAttribute.model_validate(a) for a in row["attributes"]],
    )
