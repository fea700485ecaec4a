-- What a charging session needs, from the EV (2.0.1 NotifyEVChargingNeeds) or the driver (REST):
-- the smart-charging planner's energy target, departure and the EV's power limit.
CREATE TABLE session_demands (
    transaction_id      bigint PRIMARY KEY REFERENCES transactions (transaction_id) ON DELETE CASCADE,
    target_energy_kwh   double precision CHECK (target_energy_kwh >= 0),
    departure_at        timestamptz,
    ev_max_power_kw     double precision CHECK (ev_max_power_kw >= 0),
    source              text NOT NULL CHECK (source IN ('ev', 'driver')),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
