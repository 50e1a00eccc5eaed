-- Inward serves as a runtime role that has only its rows' DML (see `inward db setup-roles`):
-- it writes audit entries but cannot touch the chain, cannot backdate an entry, and cannot
-- ANALYZE a table it does not own. What it needs beyond DML runs in functions with the rights
-- of their owner, the schema owner.

-- Sealing writes audit_seals and audit_chain_head, which the runtime role may only read.
ALTER FUNCTION audit_seal() SECURITY DEFINER SET search_path = public, pg_temp;

-- Entries are stamped by the database: `at` is the writing transaction's time, never a value
-- the writer chose.
CREATE FUNCTION audit_log_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.at IS DISTINCT FROM now() THEN
        RAISE EXCEPTION 'audit entries are stamped by the database: leave "at" to its default'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_stamped BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_stamp();

-- An upload's staged rows get fresh statistics before the set-based checks run on them;
-- only a table's owner may ANALYZE it.
CREATE FUNCTION analyze_upload_rows() RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    ANALYZE inventory_upload_rows
$$;
