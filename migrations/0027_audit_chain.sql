-- A tamper-evident audit log: every entry is sealed with a sequence number and a SHA-256 hash
-- chained over the previous seal's hash and the entry's canonical content. Sealing happens at
-- commit (a deferred constraint trigger), so the chain's head is locked only while a
-- transaction commits: it is the last lock a transaction takes, and two writers can neither
-- fork the chain nor deadlock over it. Seals live beside the entries, so `audit_log` itself
-- stays strictly append-only.

CREATE TABLE audit_chain_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_chain_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_seals (
    seq bigint PRIMARY KEY,
    entry_id bigint NOT NULL UNIQUE,
    hash bytea NOT NULL
);

-- One field of the canonical content: `-` for NULL, else its length in characters, a colon
-- and the text, so no value can be mistaken for another or for a separator.
CREATE FUNCTION audit_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '-' ELSE length(value)::text || ':' || value END
$$;

-- What a seal's hash covers; `inward audit verify` rebuilds the same text from the columns.
CREATE FUNCTION audit_canonical(e audit_log, seq bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT audit_field(seq::text) || audit_field(e.id::text)
        || audit_field(to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_field(e.tenant_id::text) || audit_field(e.user_id::text) || audit_field(e.org_id::text)
        || audit_field(e.phone_number) || audit_field(e.action) || audit_field(e.target_type)
        || audit_field(e.target_id) || audit_field(e.status) || audit_field(e.error_message)
        || audit_field(e.request_id) || audit_field(e.justification) || audit_field(e.details::text)
$$;

CREATE FUNCTION audit_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain_head;
    next_hash bytea;
BEGIN
    SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE;
    next_hash := sha256(head.hash || convert_to(audit_canonical(NEW, head.seq + 1), 'UTF8'));
    INSERT INTO audit_seals (seq, entry_id, hash) VALUES (head.seq + 1, NEW.id, next_hash);
    UPDATE audit_chain_head SET seq = head.seq + 1, hash = next_hash WHERE one;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER audit_log_seal AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_seal();

-- Seals are append-only too.
CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Entries written before the chain existed are sealed now, in id order.
DO $$
DECLARE
    e audit_log;
    head audit_chain_head;
    next_hash bytea;
BEGIN
    FOR e IN SELECT * FROM audit_log ORDER BY id LOOP
        SELECT * INTO head FROM audit_chain_head WHERE one;
        next_hash := sha256(head.hash || convert_to(audit_canonical(e, head.seq + 1), 'UTF8'));
        INSERT INTO audit_seals (seq, entry_id, hash) VALUES (head.seq + 1, e.id, next_hash);
        UPDATE audit_chain_head SET seq = head.seq + 1, hash = next_hash WHERE one;
    END LOOP;
END;
$$;

-- Each run of the periodic verification, for the audit page ("verified up to entry N").
CREATE TABLE audit_verifications (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    verified_to bigint NOT NULL,
    head_hash bytea NOT NULL,
    broken_at bigint,
    problem text
);
