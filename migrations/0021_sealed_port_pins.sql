-- The port-out PIN is a secret of the tenant's old account: it is kept sealed with the
-- server's key (AES-256-GCM, as platform credentials are) in `pin_sealed`, and is optional.
-- PINs stored before are sealed by the next pass of the jobs, which then clears `pin`.
ALTER TABLE port_requests ALTER COLUMN pin DROP NOT NULL;
ALTER TABLE port_requests ADD COLUMN pin_sealed bytea;
CREATE INDEX port_requests_plaintext_pin ON port_requests (id) WHERE pin IS NOT NULL;
