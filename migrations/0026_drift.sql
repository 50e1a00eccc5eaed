-- Reconciliation: each run compares, number by number, what a tenant's platform routes with
-- what Inward shows. The differences it found last stay here until the next run or until an
-- action resolves them; each run is recorded with its counts for the Drift page and /metrics.
CREATE TABLE drift (
    tenant_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    e164 text NOT NULL,
    class text NOT NULL CHECK (class IN ('routed_not_active', 'unrouted', 'different_target', 'target_gone', 'unknown')),
    inward text NOT NULL,
    platform text NOT NULL,
    -- The targets each side names: {"kind", "id", "name"} or NULL.
    inward_target jsonb,
    platform_target jsonb,
    found_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, e164)
);

CREATE TABLE reconcile_runs (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    compared integer NOT NULL DEFAULT 0,
    -- Differences per class: {"unrouted": 2, …}.
    counts jsonb NOT NULL DEFAULT '{}',
    -- Why the run could not finish (the platform refused or was away); NULL when it did.
    error text
);
CREATE INDEX reconcile_runs_tenant ON reconcile_runs (tenant_id, id DESC);
