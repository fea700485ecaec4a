-- Operator API: audit log, reservations, charging profiles sent by operators, failure alerts,
-- id tag owners, decommissioned charge points, and NOTIFY triggers for the live event stream.

CREATE TABLE audit_log (
    id                  bigserial PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    token_id            bigint,
    token_name          text,
    role                text,
    interface           text NOT NULL DEFAULT 'rest',
    method              text NOT NULL,
    target              text NOT NULL,
    status              integer NOT NULL,
    details             jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

CREATE TABLE reservations (
    id                  serial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL CHECK (connector_id >= 0),
    id_tag              text NOT NULL,
    expires_at          timestamptz NOT NULL,
    status              text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    cancelled_at        timestamptz
);
CREATE INDEX reservations_cp ON reservations (charge_point_id, id DESC);

CREATE TABLE charging_profiles (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL CHECK (connector_id >= 0),
    profile_id          integer NOT NULL,
    profile             jsonb NOT NULL,
    status              text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    cleared_at          timestamptz
);
CREATE INDEX charging_profiles_cp ON charging_profiles (charge_point_id, id DESC);

CREATE TABLE alerts (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    raised_at           timestamptz NOT NULL DEFAULT now(),
    cleared_at          timestamptz,
    risk                double precision NOT NULL CHECK (risk BETWEEN 0 AND 1),
    horizon_hours       double precision NOT NULL,
    failure_mode        text,
    signals             jsonb NOT NULL DEFAULT '[]',
    model_version       text
);
CREATE INDEX alerts_open ON alerts (charge_point_id) WHERE cleared_at IS NULL;

ALTER TABLE id_tags ADD COLUMN owner text;
ALTER TABLE charge_points ADD COLUMN decommissioned_at timestamptz;

-- Live stream: committed changes are announced on channel `sigecve_live` (NOTIFY is delivered
-- at commit, so listeners never see what was rolled back).
CREATE FUNCTION notify_connector_status() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sigecve_live', json_build_object(
        'type', 'connector_status', 'charge_point_id', NEW.charge_point_id,
        'connector_id', NEW.connector_id, 'status', NEW.status,
        'error_code', NEW.error_code, 'at', NEW.status_at)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER connectors_notify AFTER INSERT OR UPDATE OF status, error_code ON connectors
    FOR EACH ROW EXECUTE FUNCTION notify_connector_status();

CREATE FUNCTION notify_connection() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.connected IS NOT DISTINCT FROM OLD.connected THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('sigecve_live', json_build_object(
        'type', 'connection', 'charge_point_id', NEW.id, 'connected', NEW.connected,
        'protocol', NEW.ocpp_protocol, 'at', now())::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER charge_points_notify AFTER UPDATE OF connected ON charge_points
    FOR EACH ROW EXECUTE FUNCTION notify_connection();

CREATE FUNCTION notify_transaction() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.stopped_at IS NOT DISTINCT FROM OLD.stopped_at THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('sigecve_live', json_build_object(
        'type', CASE WHEN NEW.stopped_at IS NULL THEN 'transaction_started'
                     ELSE 'transaction_stopped' END,
        'id', NEW.transaction_id,
        'transaction_id', COALESCE(NEW.ocpp_transaction_id, NEW.transaction_id::text),
        'charge_point_id', NEW.charge_point_id, 'connector_id', NEW.connector_id,
        'id_tag', NEW.id_tag, 'at', COALESCE(NEW.stopped_at, NEW.started_at),
        'energy_wh', NEW.meter_stop_wh - NEW.meter_start_wh)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER transactions_notify AFTER INSERT OR UPDATE OF stopped_at ON transactions
    FOR EACH ROW EXECUTE FUNCTION notify_transaction();

-- Power readings of a session, for live power curves (one NOTIFY per sampled power value).
CREATE FUNCTION notify_power() RETURNS trigger AS $$
BEGIN
    IF NEW.measurand = 'Power.Active.Import' AND NEW.phase IS NULL THEN
        PERFORM pg_notify('sigecve_live', json_build_object(
            'type', 'power', 'charge_point_id', NEW.charge_point_id,
            'connector_id', NEW.connector_id, 'transaction', NEW.transaction_id,
            'value', NEW.value, 'unit', NEW.unit, 'at', NEW.timestamp)::text);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER meter_values_notify AFTER INSERT ON meter_values
    FOR EACH ROW EXECUTE FUNCTION notify_power();

CREATE FUNCTION notify_alert() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sigecve_live', json_build_object(
        'type', CASE WHEN NEW.cleared_at IS NULL THEN 'alert_raised' ELSE 'alert_cleared' END,
        'id', NEW.id, 'charge_point_id', NEW.charge_point_id, 'risk', NEW.risk,
        'at', COALESCE(NEW.cleared_at, NEW.raised_at))::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE OF cleared_at ON alerts
    FOR EACH ROW EXECUTE FUNCTION notify_alert();
