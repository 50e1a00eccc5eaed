-- Entries are sealed behind their transaction instead of inside its commit. Sealing at commit
-- (0027) held the chain's head locked through each writing transaction's WAL flush, so every
-- transaction that wrote an audit entry (every hold, every provisioning) committed one at a
-- time. Now an entry's id goes into `audit_unsealed` as it is written, with no shared lock,
-- and `audit_seal_pending` seals the queued entries, in id order batch by batch, many per
-- transaction; each server calls it within a fraction of a second
-- (`audit::chain::seal_pending`), and every verification seals what is queued before it
-- checks. An entry neither sealed nor queued was
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

-- Seals up to `max_entries` queued entries, in id order within the batch, and returns how
-- many it took from the queue. Sealers (one per server) take the head's lock first, so they
-- seal one after another and never the same entry twice. The queue cannot stop the chain:
-- an id already sealed is dropped, and an entry removed behind the chain's back before its
-- seal still gets a seal of its own (over the previous hash alone), which verification
-- reports as a sealed entry that is gone.
CREATE FUNCTION audit_seal_pending(max_entries int) RETURNS int LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_chain_head;
    e audit_log;
    ids bigint[];
    entry bigint;
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
    FOREACH entry IN ARRAY ids LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM audit_seals WHERE entry_id = entry);
        head.seq := head.seq + 1;
        SELECT * INTO e FROM audit_log WHERE id = entry;
        IF FOUND THEN
            head.hash := sha256(head.hash || convert_to(audit_canonical(e, head.seq), 'UTF8'));
        ELSE
            head.hash := sha256(head.hash);
        END IF;
        INSERT INTO audit_seals (seq, entry_id, hash) VALUES (head.seq, entry, head.hash);
    END LOOP;
    UPDATE audit_chain_head SET seq = head.seq, hash = head.hash WHERE one;
    RETURN cardinality(ids);
END;
$$;
