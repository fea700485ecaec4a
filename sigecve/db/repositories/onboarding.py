"""Onboarding: the policy for stations nobody registered, the approval queue, configuration
templates and what each station did with them."""

from __future__ import annotations

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from sigecve.db.group_commit import connection
from sigecve.db.repositories.base import Row
from sigecve.onboarding import ConfigurationTemplate, NewConfigurationTemplate, UnknownStations


def _template(row: Row) -> ConfigurationTemplate:
    return ConfigurationTemplate.model_validate(row)


class OnboardingRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def policy(self) -> UnknownStations:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT unknown_stations FROM onboarding_policy")
            row = await cur.fetchone()
            return row["unknown_stations"] if row else "refuse"

    async def set_policy(self, unknown_stations: UnknownStations) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO onboarding_policy (unknown_stations) VALUES (%s)
                   ON CONFLICT (singleton) DO UPDATE SET
                       unknown_stations = EXCLUDED.unknown_stations, updated_at = now()""",
                (unknown_stations,),
            )

    async def queue(self) -> list[Row]:
        """Stations waiting for approval (or approved and not yet configured), oldest first."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT id, registration_status, approved_at, registered_at, connected,
                          vendor, model, serial_number, firmware_version, booted_at,
                          boot_info, site_id
                   FROM charge_points
                   WHERE registration_status <> 'Accepted' AND decommissioned_at IS NULL
                   ORDER BY registered_at, id"""
            )
            return await cur.fetchall()

    async def approve(self, charge_point_id: str, site_id: str | None) -> bool:
        """Approved: Pending (a Rejected one too) until it is configured; False unless it
        was waiting."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE charge_points SET registration_status = 'Pending',
                       approved_at = now(), site_id = COALESCE(%s, site_id)
                   WHERE id = %s AND registration_status <> 'Accepted'""",
                (site_id, charge_point_id),
            )
            return cur.rowcount == 1

    async def reject(self, charge_point_id: str) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE charge_points SET registration_status = 'Rejected', approved_at = NULL
                   WHERE id = %s AND registration_status <> 'Accepted'""",
                (charge_point_id,),
            )
            return cur.rowcount == 1

    async def accept(self, charge_point_id: str) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                "UPDATE charge_points SET registration_status = 'Accepted' WHERE id = %s",
                (charge_point_id,),
            )

    async def templates(self) -> list[ConfigurationTemplate]:
        async with connection(self.pool) as conn:
            cur = await conn.execute("SELECT * FROM configuration_templates ORDER BY id")
            return [_template(r) for r in await cur.fetchall()]

    async def template(self, template_id: int) -> ConfigurationTemplate | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "SELECT * FROM configuration_templates WHERE id = %s", (template_id,)
            )
            row = await cur.fetchone()
            return _template(row) if row else None

    async def insert_template(self, t: NewConfigurationTemplate) -> ConfigurationTemplate | None:
        """The new template; None if one has its name."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """INSERT INTO configuration_templates (name, vendor, model, site_id, variables)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING *""",
                (t.name, t.vendor, t.model, t.site_id, Jsonb(_variables(t))),
            )
            row = await cur.fetchone()
            return _template(row) if row else None

    async def replace_template(
        self, template_id: int, t: NewConfigurationTemplate
    ) -> ConfigurationTemplate | None:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """UPDATE configuration_templates SET name = %s, vendor = %s, model = %s,
                       site_id = %s, variables = %s, updated_at = now()
                   WHERE id = %s RETURNING *""",
                (t.name, t.vendor, t.model, t.site_id, Jsonb(_variables(t)), template_id),
            )
            row = await cur.fetchone()
            return _template(row) if row else None

    async def delete_template(self, template_id: int) -> bool:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                "DELETE FROM configuration_templates WHERE id = %s", (template_id,)
            )
            return cur.rowcount == 1

    async def record_result(
        self,
        charge_point_id: str,
        key: str,
        value: str,
        template: str,
        status: str,
        reason: str | None,
    ) -> None:
        async with connection(self.pool) as conn:
            await conn.execute(
                """INSERT INTO onboarding_results (charge_point_id, key, value, template,
                       status, reason) VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (charge_point_id, key) DO UPDATE SET value = EXCLUDED.value,
                       template = EXCLUDED.template, status = EXCLUDED.status,
                       reason = EXCLUDED.reason, applied_at = now()""",
                (charge_point_id, key, value, template, status, reason),
            )

    async def results(self, charge_point_id: str) -> list[Row]:
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT key, value, template, status, reason, applied_at
                   FROM onboarding_results WHERE charge_point_id = %s ORDER BY key""",
                (charge_point_id,),
            )
            return await cur.fetchall()

    async def models_lacking(
        self, vendor: str | None, model: str | None, keys: list[str]
    ) -> dict[str, list[str]]:
        """For chargers of this vendor and model whose last device model report is
        complete: the template keys their model does not have, by charger (one example
        charger per key is enough to name)."""
        async with connection(self.pool) as conn:
            cur = await conn.execute(
                """SELECT cp.id, ARRAY(
                        SELECT k FROM unnest(%(keys)s::text[]) AS k
                        WHERE NOT EXISTS (
                            SELECT 1 FROM device_model_variables v
                            WHERE v.charge_point_id = cp.id
                              AND (CASE WHEN v.component = '' THEN v.variable
                                        ELSE v.component || '.' || v.variable END) = k)
                   ) AS missing
                   FROM charge_points cp
                   WHERE (%(vendor)s::text IS NULL OR cp.vendor = %(vendor)s)
                     AND (%(model)s::text IS NULL OR cp.model = %(model)s)
                     AND EXISTS (SELECT 1 FROM device_model_reports r
                                 WHERE r.charge_point_id = cp.id
                                   AND r.completed_at IS NOT NULL)
                   ORDER BY cp.id LIMIT 20""",
                {"vendor": vendor, "model": model, "keys": keys},
            )
            return {r["id"]: r["missing"] for r in await cur.fetchall() if r["missing"]}


def _variables(t: NewConfigurationTemplate) -> list[dict]:
    return [v.model_dump() for v in t.variables]
