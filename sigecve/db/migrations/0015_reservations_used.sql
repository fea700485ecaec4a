-- Reservations end to end: used by the session that started on them, expired when their
-- time ran out unused (shown so when read), or ended by the charger (2.x ReservationStatusUpdate).
ALTER TABLE reservations
    ADD COLUMN used_at timestamptz,
    ADD COLUMN transaction_id bigint REFERENCES transactions (transaction_id) ON DELETE SET NULL,
    ADD COLUMN ended_at timestamptz;
CREATE INDEX reservations_held ON reservations (charge_point_id, connector_id)
    WHERE status = 'Accepted';
