-- Sites with a grid connection limit and a tariff; what the grid scheduler needs per charger.

CREATE TABLE sites (
    id                  text PRIMARY KEY,
    name                text,
    max_power_kw        double precision NOT NULL CHECK (max_power_kw >= 0),
    price_per_kwh       double precision NOT NULL DEFAULT 0.25,
    smart_charging      boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE charge_points
    ADD COLUMN max_power_kw double precision NOT NULL DEFAULT 22 CHECK (max_power_kw > 0),
    ADD COLUMN phases smallint NOT NULL DEFAULT 3 CHECK (phases IN (1, 3)),
    ADD COLUMN charging_rate_unit text NOT NULL DEFAULT 'W' CHECK (charging_rate_unit IN ('W', 'A'));
