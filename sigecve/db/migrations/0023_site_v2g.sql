-- Vehicle-to-grid at a site: what it may feed back to the grid, what that earns, and what a
-- kWh cycled through an EV's battery costs (sigecve.domain.Site).
ALTER TABLE sites ADD COLUMN max_export_kw double precision NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN export_price_per_kwh double precision NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN battery_wear_cost_per_kwh double precision NOT NULL DEFAULT 0.05;
