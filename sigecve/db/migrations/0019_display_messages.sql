-- Messages shown on 2.x stations' displays (SetDisplayMessage, and what NotifyDisplayMessages
-- reports a station shows): per station and message id, with the station's answer.
CREATE TABLE display_messages (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    id                  integer NOT NULL,
    priority            text NOT NULL,
    state               text,
    format              text NOT NULL,
    language            text,
    content             text NOT NULL,
    starts_at           timestamptz,
    ends_at             timestamptz,
    transaction_id      text,
    status              text NOT NULL,  -- the station's answer, or Reported
    updated_at          timestamptz NOT NULL DEFAULT now(),
    cleared_at          timestamptz,
    PRIMARY KEY (charge_point_id, id)
);
