-- The device model as each charger reported it (2.0.1/2.1 NotifyReport, GetVariables and
-- SetVariables answers; 1.6 GetConfiguration keys, as variables of the component ''): a row
-- per variable of a component (of the station or of an EVSE and connector), with its
-- characteristics, and a row per attribute (Actual, Target, MinSet, MaxSet) with its value.
CREATE TABLE device_model_variables (
    id                  bigserial PRIMARY KEY,
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    component           text NOT NULL,
    component_instance  text NOT NULL DEFAULT '',
    evse_id             integer NOT NULL DEFAULT 0,  -- 0: the station itself
    connector_id        integer NOT NULL DEFAULT 0,
    variable            text NOT NULL,
    variable_instance   text NOT NULL DEFAULT '',
    data_type           text,
    unit                text,
    min_limit           double precision,
    max_limit           double precision,
    values_list         text,
    supports_monitoring boolean,
    reported_at         timestamptz NOT NULL,
    UNIQUE (charge_point_id, component, component_instance, evse_id, connector_id, variable,
            variable_instance)
);
CREATE INDEX device_model_variables_by_name ON device_model_variables (component, variable);

CREATE TABLE device_model_attributes (
    variable_id         bigint NOT NULL REFERENCES device_model_variables (id) ON DELETE CASCADE,
    type                text NOT NULL DEFAULT 'Actual',
    value               text,
    mutability          text,
    persistent          boolean,
    constant            boolean,
    -- The charger's answer when the value came from a GetVariables or SetVariables
    -- (Accepted, RebootRequired, ...); NULL when it came in a report.
    status              text,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (variable_id, type)
);

-- Reports asked for (GetBaseReport, GetReport) and the parts that came (NotifyReport seqNo),
-- in any order; complete once the part without `tbc` and every part before it are in.
CREATE TABLE device_model_reports (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    request_id          integer NOT NULL,
    requested           text,  -- the report base asked for; NULL for one never asked for
    requested_at        timestamptz,
    parts               integer[] NOT NULL DEFAULT '{}',
    last_seq_no         integer,  -- the seqNo of the part that said no more would follow
    first_part_at       timestamptz,
    last_part_at        timestamptz,
    completed_at        timestamptz,
    PRIMARY KEY (charge_point_id, request_id)
);
