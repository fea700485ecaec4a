-- Monitors 2.x stations hold (SetVariableMonitoring accepted, NotifyMonitoringReport), per
-- station and the station's monitor id.
CREATE TABLE variable_monitors (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    id                  integer NOT NULL,
    component           text NOT NULL,
    component_instance  text NOT NULL DEFAULT '',
    evse_id             integer NOT NULL DEFAULT 0,
    connector_id        integer NOT NULL DEFAULT 0,
    variable            text NOT NULL,
    variable_instance   text NOT NULL DEFAULT '',
    type                text NOT NULL,
    value               double precision NOT NULL,
    severity            smallint NOT NULL CHECK (severity BETWEEN 0 AND 9),
    transaction         boolean NOT NULL DEFAULT false,
    origin              text NOT NULL CHECK (origin IN ('set', 'report')),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, id)
);

-- Alerts come from failure prediction (a risk over a horizon) or from a station's monitoring
-- events (what it reported, one open alert per component and variable).
ALTER TABLE alerts
    ADD COLUMN source text NOT NULL DEFAULT 'failure_prediction'
        CHECK (source IN ('failure_prediction', 'monitoring')),
    ADD COLUMN event_key text,
    ADD COLUMN event jsonb,
    ALTER COLUMN risk DROP NOT NULL,
    ALTER COLUMN horizon_hours DROP NOT NULL,
    ADD CONSTRAINT alerts_kind CHECK (
        (source = 'failure_prediction' AND risk IS NOT NULL AND horizon_hours IS NOT NULL)
        OR (source = 'monitoring' AND event_key IS NOT NULL AND event IS NOT NULL));
CREATE UNIQUE INDEX alerts_open_event ON alerts (charge_point_id, event_key)
    WHERE cleared_at IS NULL AND source = 'monitoring';

CREATE OR REPLACE FUNCTION notify_alert() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sigecve_live', json_build_object(
        'type', CASE WHEN NEW.cleared_at IS NULL THEN 'alert_raised' ELSE 'alert_cleared' END,
        'id', NEW.id, 'charge_point_id', NEW.charge_point_id, 'risk', NEW.risk,
        'source', NEW.source, 'event_key', NEW.event_key,
        'at', COALESCE(NEW.cleared_at, NEW.raised_at))::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
