-- API tokens get a name (what the automation is) and an optional expiry; revoking deletes
-- the row, which the `api_tokens_invalidate` trigger already announces to every instance.
ALTER TABLE api_tokens ADD COLUMN name text NOT NULL DEFAULT 'API token'
    CHECK (length(name) BETWEEN 1 AND 64);
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
-- A changed expiry retires cached callers too.
DROP TRIGGER api_tokens_invalidate ON api_tokens;
CREATE TRIGGER api_tokens_invalidate AFTER DELETE OR TRUNCATE OR UPDATE OF token_hash, user_id, expires_at ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION inward_invalidate('callers');
