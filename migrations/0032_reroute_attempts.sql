-- Re-routing a number (active, or orphaned) is a saga: its intent is committed here before
-- the platform is asked to move the number, and the saga owns the row through a lease it
-- renews while it waits (src/saga_lease.rs). Each platform routes a number to one place and
-- refuses to route one already in use, so the saga unassigns the number, then assigns it to
-- the new target; a refusal is compensated by assigning it back to the old one. A re-route
-- whose process died, or whose platform answer was lost, is driven forward again by
-- recovery: unassigning and assigning to the same target are both idempotent.
-- Only one re-route or release of a number runs at a time.
CREATE TABLE reroute_attempts (
    id uuid PRIMARY KEY,
    e164 text NOT NULL REFERENCES numbers (e164) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid REFERENCES users (id),
    request_id text,
    from_state text NOT NULL,
    old_target_type text,
    old_target_id text,
    old_target_name text,
    target_type text NOT NULL,
    target_id text NOT NULL,
    target_name text NOT NULL,
    display_name text,
    us_state text,
    step text NOT NULL CHECK (step IN ('started', 'completed', 'compensated', 'failed')),
    error text,
    lease_owner uuid NOT NULL,
    lease_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reroute_attempts_one_open ON reroute_attempts (e164) WHERE step = 'started';
CREATE INDEX reroute_attempts_open ON reroute_attempts (lease_expires_at) WHERE step = 'started';

ALTER TABLE reroute_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON reroute_attempts
    USING (inward_sees(tenant_id)) WITH CHECK (inward_sees(tenant_id));
