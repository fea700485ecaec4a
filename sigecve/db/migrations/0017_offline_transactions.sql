-- A transaction some of whose events the charger queued while offline and sent later
-- (2.x TransactionEvent offline = true): its times are the charger's, not when they came.
ALTER TABLE transactions ADD COLUMN offline boolean NOT NULL DEFAULT false;

-- A retried 1.6 StartTransaction is known by its charger, connector, time and tag; a 2.x
-- transaction by the id its station gave it. Two 2.x transactions may share the rest (a
-- token started twice in the same instant after a lost reply, say).
ALTER TABLE transactions
    DROP CONSTRAINT transactions_charge_point_id_connector_id_started_at_id_tag_key;
CREATE UNIQUE INDEX transactions_16_start ON transactions
    (charge_point_id, connector_id, started_at, id_tag) WHERE ocpp_transaction_id IS NULL;
