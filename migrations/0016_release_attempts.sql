-- Releasing a routed number is a saga too: its intent is committed here before the
-- platform is asked to unassign the number, and the saga owns the row through a lease it
-- renews while it waits. A release whose process died (or whose platform call failed in a
-- way that may have been applied) is finished by recovery: unassigning is idempotent, so
-- recovery unassigns again and records the release. Only one release of a number runs at
-- a time.
CREATE TABLE release_attempts (
    id uuid PRIMARY KEY,
    e164 text NOT NULL REFERENCES numbers (e164) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid REFERENCES users (id),
    request_id text,
    from_state text NOT NULL,
    target_type text,
    target_id text,
    step text NOT NULL CHECK (step IN ('started', 'completed', 'failed')),
    error text,
    lease_owner uuid NOT NULL,
    lease_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX release_attempts_one_open ON release_attempts (e164) WHERE step = 'started';
CREATE INDEX release_attempts_open ON release_attempts (lease_expires_at) WHERE step = 'started';
