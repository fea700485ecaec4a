-- Failure prediction's feature state: per charge point and UTC day, the sums the features are
-- made of (ml/features.py daily_aggregates), kept by the scoring actors for whole days so a
-- restart reads 35 rows per charger instead of 35 days of raw telemetry.
CREATE TABLE telemetry_daily (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    day                 date NOT NULL,
    sums                jsonb NOT NULL,
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, day)
);

-- The failure model the scoring actors use, stored where every node of a cluster can read it
-- (the CLI's file store is the data scientist's side; `sigecve ml deploy` copies one here).
CREATE TABLE failure_models (
    version             text PRIMARY KEY,
    deployed_at         timestamptz NOT NULL DEFAULT now(),
    metadata            jsonb NOT NULL,
    model               bytea NOT NULL
);
