-- Versioned local authorisation lists. Every change to an id tag is kept in order: a
-- differential update sends a charger what changed since the list it has (a deletion as
-- an entry without status). Per charger, the version it was last sent and up to which change.
CREATE TABLE id_tag_changes (
    seq                 bigserial PRIMARY KEY,
    id_tag              text NOT NULL,
    status              text,  -- NULL: the tag was deleted
    expiry_date         timestamptz,
    parent_id_tag       text,
    changed_at          timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION record_id_tag_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO id_tag_changes (id_tag) VALUES (OLD.id_tag);
    ELSE
        INSERT INTO id_tag_changes (id_tag, status, expiry_date, parent_id_tag)
        VALUES (NEW.id_tag, NEW.status, NEW.expiry_date, NEW.parent_id_tag);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER id_tag_added_or_removed AFTER INSERT OR DELETE ON id_tags
    FOR EACH ROW EXECUTE FUNCTION record_id_tag_change();
CREATE TRIGGER id_tag_changed AFTER UPDATE ON id_tags FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.expiry_date IS DISTINCT FROM NEW.expiry_date
          OR OLD.parent_id_tag IS DISTINCT FROM NEW.parent_id_tag)
    EXECUTE FUNCTION record_id_tag_change();
-- The tags there are now count as their first change.
INSERT INTO id_tag_changes (id_tag, status, expiry_date, parent_id_tag)
    SELECT id_tag, status, expiry_date, parent_id_tag FROM id_tags ORDER BY id_tag;

CREATE TABLE local_list_sync (
    charge_point_id     text PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    version             integer NOT NULL,  -- the version last sent and accepted
    through_seq         bigint NOT NULL,   -- every id tag change up to this one is in it
    update_type         text NOT NULL,
    synced_at           timestamptz NOT NULL,
    last_status         text,              -- the charger's answer to the last update sent
    last_attempt_at     timestamptz,
    charger_version     integer,           -- what GetLocalListVersion last said
    checked_at          timestamptz
);
