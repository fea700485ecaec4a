-- Onboarding: a station nobody registered may be admitted as Pending (or Rejected) by policy
-- and wait in the approval queue; approved, its device model is read, its configuration
-- template applied, and it is Accepted on its next boot.
ALTER TABLE charge_points
    ADD COLUMN registration_status text NOT NULL DEFAULT 'Accepted'
        CHECK (registration_status IN ('Accepted', 'Pending', 'Rejected')),
    ADD COLUMN approved_at timestamptz;

-- What happens to a station nobody registered (SIGECVE_AUTO_REGISTER=true still accepts).
CREATE TABLE onboarding_policy (
    singleton           boolean PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    unknown_stations    text NOT NULL DEFAULT 'refuse'
        CHECK (unknown_stations IN ('refuse', 'pending', 'rejected')),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
INSERT INTO onboarding_policy DEFAULT VALUES;

-- The configuration a station gets when it is approved, by vendor, model and site (any of
-- them may be left open); the most specific one wins a variable two of them set.
CREATE TABLE configuration_templates (
    id                  serial PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    vendor              text,
    model               text,
    site_id             text,
    variables           jsonb NOT NULL,  -- [{"key": "Component.Variable" or a 1.6 key, "value"}]
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- What each station did with each variable its templates set.
CREATE TABLE onboarding_results (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    key                 text NOT NULL,
    value               text NOT NULL,
    template            text NOT NULL,
    status              text NOT NULL,  -- the charger's answer, or Refused (checked before)
    reason              text,
    applied_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, key)
);
