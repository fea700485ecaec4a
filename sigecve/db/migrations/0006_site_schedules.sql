-- Operator price signals and limit schedules per site: steps of (starts_at, value).
ALTER TABLE sites
    ADD COLUMN price_schedule jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN limit_schedule jsonb NOT NULL DEFAULT '[]';
