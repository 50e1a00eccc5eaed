-- Faster inventory uploads (issue #6: 1,000,000 rows). Validation used to UPDATE every
-- staging row in place: each UPDATE writes a new version of the row and a new entry in the
-- staging primary key, which measured about 10 s per million rows on its own. Validation now
-- writes its result once, with INSERT … SELECT, into this table; the staging table keeps the
-- raw fields and, for rejected lines only, the reason (what the rejected-rows download reads).
--
-- Since this migration, the CSV reader also validates NANP numbers, so inventory_upload_rows.e164
-- is set while streaming for every row whose number is valid (country stays NULL for NANP rows:
-- it comes from rate_centers).
CREATE UNLOGGED TABLE inventory_upload_checked (
    upload_id uuid NOT NULL,
    line_no integer NOT NULL,
    -- NULL when the line is rejected; the reason is copied to inventory_upload_rows.
    reason text,
    message text,
    action text CHECK (action IN ('add', 'update', 'unchanged')),
    -- The row as it will be written to `numbers`.
    e164 text,
    country char(2),
    kind text,
    national text,
    state char(2),
    region text,
    rate_center text,
    city text,
    voice boolean,
    sms boolean,
    fax boolean,
    voice_carrier_id uuid,
    sms_carrier_id uuid,
    tenant_id uuid,
    PRIMARY KEY (upload_id, line_no)
);

-- The result is needed until the upload is imported, aborted or failed, whoever ends it: the
-- job itself, or the sweeper (src/jobs/uploads.rs) failing a stalled upload or a validated dry
-- run nobody imported. A trigger on the status covers every one of those paths.
CREATE FUNCTION inventory_upload_checked_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM inventory_upload_checked WHERE upload_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER inventory_upload_checked_cleanup
    AFTER UPDATE OF status ON inventory_uploads
    FOR EACH ROW
    WHEN (NEW.status IN ('completed', 'aborted', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION inventory_upload_checked_cleanup();
