-- Signed meter values (1.6 SignedData, 2.x signedMeterValue: OCMF, EDL, ...), kept as the
-- charger signed them for as long as their transaction is kept: calibration law (German
-- Eichrecht) lets a driver check a bill against them, so they outlive the message log.
CREATE TABLE signed_meter_values (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    connector_id        integer NOT NULL,
    transaction_id      bigint REFERENCES transactions (transaction_id) ON DELETE CASCADE,
    timestamp           timestamptz NOT NULL,
    measurand           text NOT NULL,
    context             text,
    signed_data         text NOT NULL,
    signing_method      text,
    encoding_method     text,
    public_key          text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (charge_point_id, connector_id, timestamp, measurand, context,
                               signed_data)
);
CREATE INDEX signed_meter_values_tx ON signed_meter_values (transaction_id);
