-- A provisioning saga owns its attempt through a lease: `lease_owner` is the saga's own
-- token, `lease_expires_at` how long it may go unheard. The saga renews the lease while it
-- waits on the platform; recovery takes an attempt only once its lease has expired, and
-- takes it by writing its own token, so a saga that was merely paused finds itself fenced
-- out when it comes back (every commit it makes names its token).
ALTER TABLE provisioning_attempts
    ADD COLUMN lease_owner uuid,
    ADD COLUMN lease_expires_at timestamptz;

-- Attempts already open keep the grace recovery gave them until now.
UPDATE provisioning_attempts
SET lease_owner = id, lease_expires_at = updated_at + interval '300 seconds'
WHERE step IN ('started', 'target_ready', 'assigned');

DROP INDEX provisioning_attempts_open;
CREATE INDEX provisioning_attempts_open ON provisioning_attempts (lease_expires_at)
    WHERE step IN ('started', 'target_ready', 'assigned');

-- The sandbox can lose an assignment's answer after making it, so that provisioning's
-- handling of an ambiguous platform write can be shown and tested.
ALTER TABLE sandbox_faults DROP CONSTRAINT sandbox_faults_operation_check;
ALTER TABLE sandbox_faults ADD CONSTRAINT sandbox_faults_operation_check CHECK (operation IN (
    'reserve', 'release', 'assign', 'assign_answer', 'unassign', 'ensure_target', 'cnam', 'e911', 'port'));
