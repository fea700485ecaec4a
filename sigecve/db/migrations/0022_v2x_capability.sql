-- What a bidirectional EV may give back (OCPP 2.1 V2X charging parameters, as
-- sigecve.domain.V2XCapability): max_discharge_kw, v2x_min_kwh, max_energy_kwh. NULL: it only
-- charges.
ALTER TABLE session_demands ADD COLUMN v2x jsonb;
