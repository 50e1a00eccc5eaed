-- An Idempotency-Key's first request holds the key through a lease it renews while it
-- runs. A request whose process died (or whose client went away before the request was
-- detached from it) leaves a lease that runs out; a retry then takes the key over instead
-- of being told "in progress" forever. Keys older than `idempotency.key_ttl_hours` are
-- pruned by the background jobs.
ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
