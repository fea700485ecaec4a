-- Work orders: when a charge point failed and when it was back. The labels failure
-- prediction learns from (shared/contracts/telemetry.md, table `maintenance`).
CREATE TABLE maintenance (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    failed_at           timestamptz NOT NULL,
    restored_at         timestamptz,
    failure_mode        text,
    notes               text,
    CHECK (restored_at IS NULL OR restored_at >= failed_at)
);
CREATE INDEX maintenance_cp ON maintenance (charge_point_id, failed_at);
