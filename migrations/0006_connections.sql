-- A tenant's link to its contact-center platform. Credentials are AES-256-GCM encrypted
-- with a key from the environment (INWARD_SECRETS__KEY) and never leave the server.
CREATE TABLE connections (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL UNIQUE REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('sandbox', 'genesys', 'cxone', 'ringcx')),
    region text,
    base_url text,
    credentials bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_test_at timestamptz,
    last_test_ok boolean,
    last_test_message text
);

ALTER TABLE numbers ADD COLUMN orphaned_at timestamptz;
CREATE INDEX numbers_in_service ON numbers (tenant_id, lifecycle) WHERE lifecycle IN ('active', 'pending', 'orphaned');

-- Orphan notices name their number, so re-routing it can mark them read.
ALTER TABLE notifications ADD COLUMN phone_number text;
CREATE INDEX notifications_number ON notifications (tenant_id, phone_number) WHERE read_at IS NULL AND phone_number IS NOT NULL;

-- Periodic singleton jobs: a row per job, claimed by whichever instance updates it first.
CREATE TABLE job_runs (
    name text PRIMARY KEY,
    last_run_at timestamptz NOT NULL DEFAULT 'epoch'
);
