-- Core schema: charge points, connectors, id tags, transactions, meter values, OCPP log, API tokens.

CREATE TABLE charge_points (
    id                  text PRIMARY KEY,
    password_hash       text,
    site_id             text,
    registered_at       timestamptz NOT NULL DEFAULT now(),
    ocpp_protocol       text,
    connected           boolean NOT NULL DEFAULT false,
    connection_id       text,
    last_connected_at   timestamptz,
    last_disconnected_at timestamptz,
    last_seen_at        timestamptz,
    vendor              text,
    model               text,
    serial_number       text,
    firmware_version    text,
    boot_info           jsonb,
    booted_at           timestamptz
);

CREATE TABLE connectors (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL CHECK (connector_id >= 0),
    status              text NOT NULL,
    error_code          text,
    info                text,
    vendor_error_code   text,
    status_at           timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, connector_id)
);

CREATE TABLE status_events (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL,
    status              text NOT NULL,
    error_code          text,
    info                text,
    vendor_error_code   text,
    timestamp           timestamptz NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_events_cp_time ON status_events (charge_point_id, timestamp);

CREATE TABLE id_tags (
    id_tag              text PRIMARY KEY CHECK (length(id_tag) BETWEEN 1 AND 20),
    status              text NOT NULL CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
    expiry_date         timestamptz,
    parent_id_tag       text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- transaction_id is the number the CSMS handed out (what the charger knows in 1.6);
-- (charge_point_id, connector_id, started_at, id_tag) identifies a retried StartTransaction.
CREATE TABLE transactions (
    transaction_id      bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL,
    id_tag              text NOT NULL,
    started_at          timestamptz NOT NULL,
    meter_start_wh      bigint NOT NULL,
    reservation_id      integer,
    stopped_at          timestamptz,
    meter_stop_wh       bigint,
    stop_reason         text,
    stop_id_tag         text,
    start_id_tag_status text NOT NULL,
    UNIQUE (charge_point_id, connector_id, started_at, id_tag)
);
CREATE INDEX transactions_cp ON transactions (charge_point_id, started_at DESC);

CREATE TABLE meter_values (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL,
    transaction_id      bigint REFERENCES transactions (transaction_id) ON DELETE SET NULL,
    timestamp           timestamptz NOT NULL,
    measurand           text NOT NULL,
    value               double precision NOT NULL,
    unit                text,
    phase               text,
    context             text,
    location            text
);
CREATE INDEX meter_values_tx ON meter_values (transaction_id, timestamp);
CREATE INDEX meter_values_cp_time ON meter_values (charge_point_id, timestamp);

CREATE TABLE ocpp_messages (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('in', 'out')),
    message_type        smallint,
    unique_id           text,
    action              text,
    frame               text NOT NULL,
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocpp_messages_cp_time ON ocpp_messages (charge_point_id, at DESC);

CREATE TABLE connectivity_events (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL,
    event               text NOT NULL CHECK (event IN ('connect', 'disconnect', 'boot', 'heartbeat')),
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connectivity_events_cp_time ON connectivity_events (charge_point_id, at);

CREATE TABLE api_tokens (
    id                  bigserial PRIMARY KEY,
    name                text NOT NULL,
    token_hash          text NOT NULL UNIQUE,
    role                text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz
);
