-- Each instance keeps callers (session or API token → user, organization) and tenants'
-- provider adapters in memory for a few seconds. Any change that could make such an entry
-- wrong notifies every instance, which drops its cached entries of that kind. Triggers,
-- not application code, so that no write path (CLI, SQL by hand, another version) forgets.
-- Statement-level: one notification per statement, and NOTIFY folds duplicates within a
-- transaction.

CREATE FUNCTION inward_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('inward_invalidate', TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_invalidate AFTER UPDATE OR DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('callers');
CREATE TRIGGER api_tokens_invalidate AFTER DELETE OR TRUNCATE OR UPDATE OF token_hash, user_id ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('callers');
CREATE TRIGGER users_invalidate AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('callers');
CREATE TRIGGER organizations_invalidate AFTER UPDATE OR DELETE OR TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('callers');
CREATE TRIGGER connections_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('connections');
