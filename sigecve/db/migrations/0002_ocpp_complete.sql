-- OCPP 2.0.1 and the rest of 1.6: notifications as they came, charger-assigned transaction ids,
-- TransactionEvent sequence numbers (retries are recognised by them), longer 2.0.1 id tokens.

CREATE TABLE charge_point_events (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    protocol            text NOT NULL,
    action              text NOT NULL,
    payload             jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charge_point_events_cp_time ON charge_point_events (charge_point_id, received_at DESC);
CREATE INDEX charge_point_events_cp_action ON charge_point_events (charge_point_id, action, id DESC);

ALTER TABLE transactions
    ADD COLUMN protocol text NOT NULL DEFAULT 'ocpp1.6',
    ADD COLUMN ocpp_transaction_id text,
    ALTER COLUMN id_tag DROP NOT NULL,
    ALTER COLUMN start_id_tag_status DROP NOT NULL;
CREATE UNIQUE INDEX transactions_cp_ocpp_id ON transactions (charge_point_id, ocpp_transaction_id)
    WHERE ocpp_transaction_id IS NOT NULL;

CREATE TABLE transaction_events (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    ocpp_transaction_id text NOT NULL,
    seq_no              integer NOT NULL,
    event_type          text NOT NULL,
    trigger_reason      text NOT NULL,
    timestamp           timestamptz NOT NULL,
    payload             jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, ocpp_transaction_id, seq_no)
);

ALTER TABLE id_tags DROP CONSTRAINT id_tags_id_tag_check;
ALTER TABLE id_tags ADD CONSTRAINT id_tags_id_tag_check CHECK (length(id_tag) BETWEEN 1 AND 36);
