-- Entries are sealed behind their transaction instead of inside its commit. Sealing at commit
-- (0027) held the chain's head locked through each writing transaction's WAL flush, so every
-- transaction that wrote an audit entry (every hold, every provisioning) committed one at a
-- time. Now an entry's id goes into `audit_unsealed` as it is written, with no shared lock,
-- and `audit_seal_pending` seals the queued entries in id order, many per transaction; each
-- server calls it within a fraction of a second (`audit::chain::seal_pending`), and every
-- verification seals what is queued before it checks. An entry neither sealed nor queued was
-- written with the triggers switched off, and verification reports it as before.

CREATE TABLE audit_unsealed (
    entry_id bigint PRIMARY KEY
);

CREATE FUNCTION audit_queue_for_sealing() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO audit_unsealed (entry_id) SELECT id FROM added;
    RETURN NULL;
END;
$$;

DROP TRIGGER audit_log_seal ON audit_log;
DROP FUNCTION audit_seal();
CREATE TRIGGER audit_log_queued_for_sealing AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION audit_queue_for_sealing();

-- Seals up to `max_entries` queued entries, in id order, and returns how many. Sealers
-- (one per server) take the head's lock first, so they seal one after another and never
-- the same entry twice.
CREATE FUNCTION audit_seal_pending(max_entries int) RETURNS int LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_chain_head;
    e audit_log;
    ids bigint[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_unsealed) THEN
        RETURN 0;
    END IF;
    SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE;
    WITH taken AS (
        DELETE FROM audit_unsealed WHERE entry_id IN (
            SELECT entry_id FROM audit_unsealed ORDER BY entry_id LIMIT max_entries
        )
        RETURNING entry_id
    )
    SELECT array_agg(entry_id ORDER BY entry_id) INTO ids FROM taken;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    FOR e IN SELECT * FROM audit_log WHERE id = ANY (ids) ORDER BY id LOOP
        head.seq := head.seq + 1;
        head.hash := sha256(head.hash || convert_to(audit_canonical(e, head.seq), 'UTF8'));
        INSERT INTO audit_seals (seq, entry_id, hash) VALUES (head.seq, e.id, head.hash);
    END LOOP;
    UPDATE audit_chain_head SET seq = head.seq, hash = head.hash WHERE one;
    RETURN cardinality(ids);
END;
$$;
