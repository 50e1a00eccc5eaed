-- Organizations form a tree: operator -> resellers -> tenants.
CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('operator', 'reseller', 'tenant')),
    parent_id uuid REFERENCES organizations (id),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Countries (ISO 3166 alpha-2) a tenant may search and reserve in.
    allowed_countries text[] NOT NULL DEFAULT ARRAY['US'],
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'operator') = (parent_id IS NULL))
);

INSERT INTO organizations (id, kind, parent_id, slug, name)
VALUES ('00000000-0000-0000-0000-000000000001', 'operator', NULL, 'operator', 'Platform operator');

CREATE TABLE users (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id),
    email text NOT NULL,
    role text NOT NULL CHECK (role IN ('operator', 'reseller_admin', 'tenant_admin', 'tenant_user')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Browser sessions; the cookie carries a random token, only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

-- NANP rate centers (NPA-NXX -> city, state), loaded from data/npa-nxx-places.csv.
CREATE TABLE rate_centers (
    npa char(3) NOT NULL,
    nxx char(3) NOT NULL,
    city text NOT NULL,
    state char(2) NOT NULL,
    country char(2) NOT NULL,
    rate_center text NOT NULL,
    PRIMARY KEY (npa, nxx)
);
CREATE INDEX rate_centers_city ON rate_centers (lower(city) text_pattern_ops, state);

-- Every number Inward knows about, one row each. The row is the lock: a number is held
-- by at most one reservation because there is only one reservation_id column.
CREATE TABLE numbers (
    e164 text PRIMARY KEY CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    country char(2) NOT NULL,
    kind text NOT NULL CHECK (kind IN ('local', 'toll_free')),
    national text NOT NULL,
    npa char(3) NOT NULL,
    nxx char(3) NOT NULL,
    state char(2),
    region text NOT NULL,
    rate_center text,
    city text,
    lifecycle text NOT NULL DEFAULT 'available' CHECK (lifecycle IN (
        'available', 'reserved', 'provisioning', 'active', 'pending',
        'orphaned', 'released', 'deprovisioned', 'porting_in')),
    -- The organization whose inventory this is (the operator for carrier stock).
    inventory_org_id uuid NOT NULL REFERENCES organizations (id),
    tenant_id uuid REFERENCES organizations (id),
    reservation_id uuid,
    target_type text CHECK (target_type IN ('queue', 'extension', 'ivr')),
    target_id text,
    target_name text,
    display_name text,
    provider_ref text,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Invariant 2: nothing is active without a routing target.
    CHECK (lifecycle NOT IN ('active', 'pending') OR (target_type IS NOT NULL AND target_id IS NOT NULL)),
    CHECK ((lifecycle IN ('reserved', 'provisioning')) = (reservation_id IS NOT NULL))
);
CREATE INDEX numbers_search_state ON numbers (country, kind, state, npa, nxx, national) WHERE lifecycle IN ('available', 'released');
CREATE INDEX numbers_search_npa ON numbers (npa, nxx, national) WHERE lifecycle IN ('available', 'released');
CREATE INDEX numbers_search_rate_center ON numbers (state, rate_center, national) WHERE lifecycle IN ('available', 'released');
CREATE INDEX numbers_search_city ON numbers (state, lower(city), national) WHERE lifecycle IN ('available', 'released');
CREATE INDEX numbers_search_pattern ON numbers (national text_pattern_ops) WHERE lifecycle IN ('available', 'released');
CREATE INDEX numbers_tenant ON numbers (tenant_id, e164) WHERE tenant_id IS NOT NULL;
CREATE INDEX numbers_reservation ON numbers (reservation_id) WHERE reservation_id IS NOT NULL;

CREATE TABLE reservations (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    justification text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled', 'expired')),
    ended_at timestamptz
);
CREATE INDEX reservations_tenant ON reservations (tenant_id, created_at DESC);

-- One row per number per reservation. The partial unique index is the database's own
-- guarantee of at most one live hold per number, whatever the number of server instances.
CREATE TABLE holds (
    id bigserial PRIMARY KEY,
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    e164 text NOT NULL REFERENCES numbers (e164),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN ('provisioned', 'cancelled', 'expired', 'failed')),
    -- The provider's native reservation, when it has one, and whether it has been released.
    provider_ref text,
    provider_released_at timestamptz
);
CREATE UNIQUE INDEX holds_one_live_per_number ON holds (e164) WHERE ended_at IS NULL;
CREATE INDEX holds_due ON holds (expires_at) WHERE ended_at IS NULL;
CREATE INDEX holds_provider_release_due ON holds (ended_at)
    WHERE provider_ref IS NOT NULL AND provider_released_at IS NULL AND ended_at IS NOT NULL;

-- Provisioning saga log: a row is written before the provider is touched, so a crash
-- mid-saga can be found and compensated.
CREATE TABLE provisioning_attempts (
    id uuid PRIMARY KEY,
    reservation_id uuid NOT NULL REFERENCES reservations (id),
    e164 text NOT NULL REFERENCES numbers (e164),
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    target_type text NOT NULL,
    target_id text,
    target_created boolean NOT NULL DEFAULT false,
    step text NOT NULL CHECK (step IN ('started', 'target_ready', 'assigned', 'completed', 'compensated', 'failed')),
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provisioning_attempts_open ON provisioning_attempts (updated_at)
    WHERE step IN ('started', 'target_ready', 'assigned');

CREATE TABLE idempotency_keys (
    tenant_id uuid NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text NOT NULL,
    response_status smallint,
    response_body jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- Append-only audit log (invariant 4): the triggers below refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    tenant_id uuid,
    user_id uuid,
    phone_number text,
    action text NOT NULL CHECK (action IN ('SEARCH', 'RESERVE', 'PROVISION', 'RELEASE', 'DEPROVISION', 'EXPIRE')),
    target_type text,
    target_id text,
    status text NOT NULL CHECK (status IN ('SUCCESS', 'FAILURE', 'EXPIRED')),
    error_message text,
    request_id text,
    justification text,
    details jsonb
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id DESC);
CREATE INDEX audit_log_number ON audit_log (phone_number, id DESC);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- The built-in sandbox provider keeps its simulated platform in the database too, so that
-- several server instances see one sandbox.
CREATE TABLE sandbox_targets (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('queue', 'extension', 'ivr')),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX sandbox_targets_name ON sandbox_targets (tenant_id, kind, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE sandbox_reservations (
    ref text PRIMARY KEY,
    e164 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz
);

CREATE TABLE sandbox_assignments (
    e164 text PRIMARY KEY,
    tenant_id uuid NOT NULL,
    target_id uuid NOT NULL REFERENCES sandbox_targets (id),
    display_name text,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    active_at timestamptz NOT NULL
);

-- Fault injection for demos and tests: the next `remaining` calls of `operation` fail.
CREATE TABLE sandbox_faults (
    operation text PRIMARY KEY CHECK (operation IN ('reserve', 'release', 'assign', 'unassign', 'ensure_target')),
    remaining integer NOT NULL CHECK (remaining >= 0),
    message text NOT NULL DEFAULT 'sandbox: injected failure'
);
