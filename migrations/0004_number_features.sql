-- Number features (issue #5): tenant settings, CNAM and E911 per number, and the sandbox's
-- simulated CNAM database and 911 provider.

-- One row per tenant once its settings have been saved; a tenant without a row has the
-- defaults (E911 required before activation, unassigned calls play a message).
CREATE TABLE tenant_settings (
    tenant_id uuid PRIMARY KEY REFERENCES organizations (id),
    cnam_default text CHECK (cnam_default IS NULL OR length(cnam_default) BETWEEN 1 AND 15),
    require_e911 boolean NOT NULL DEFAULT true,
    unassigned_behavior text NOT NULL DEFAULT 'message'
        CHECK (unassigned_behavior IN ('message', 'main_number', 'reject')),
    main_number text CHECK (main_number ~ '^\+[1-9][0-9]{6,14}$'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (unassigned_behavior <> 'main_number' OR main_number IS NOT NULL)
);
-- Tenants that exist when this migration runs keep activating numbers as before; the policy
-- is on for every tenant created from now on.
INSERT INTO tenant_settings (tenant_id, require_e911)
SELECT id, false FROM organizations WHERE kind = 'tenant';

-- The caller-ID name of a number: the per-number override, the name last sent (override or
-- tenant default) and where its sync with the provider stands. No row: CNAM not set.
CREATE TABLE cnam_records (
    e164 text PRIMARY KEY REFERENCES numbers (e164),
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    override_name text CHECK (override_name IS NULL OR length(override_name) BETWEEN 1 AND 15),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 15),
    status text NOT NULL CHECK (status IN ('pending', 'synced', 'failed')),
    reason text,
    provider_ref text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'failed' OR reason IS NOT NULL)
);
CREATE INDEX cnam_records_tenant ON cnam_records (tenant_id, e164);
CREATE INDEX cnam_records_due ON cnam_records (next_attempt_at) WHERE status = 'pending';

-- The dispatchable location (Ray Baum's Act) of a number. No row: E911 not set.
CREATE TABLE e911_records (
    e164 text PRIMARY KEY REFERENCES numbers (e164),
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    street text NOT NULL,
    location text,
    city text NOT NULL,
    state char(2) NOT NULL,
    zip text NOT NULL CHECK (zip ~ '^[0-9]{5}(-[0-9]{4})?$'),
    country char(2) NOT NULL DEFAULT 'US',
    status text NOT NULL CHECK (status IN ('pending', 'registered', 'failed')),
    reason text,
    provider_ref text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'failed' OR reason IS NOT NULL)
);
CREATE INDEX e911_records_tenant ON e911_records (tenant_id, e164);
CREATE INDEX e911_records_due ON e911_records (next_attempt_at) WHERE status = 'pending';

-- The sandbox's CNAM database and 911 provider: a request is answered once `ready_at` passes.
CREATE TABLE sandbox_cnam_requests (
    ref text PRIMARY KEY,
    e164 text NOT NULL,
    name text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz NOT NULL,
    rejection text
);

CREATE TABLE sandbox_e911_requests (
    ref text PRIMARY KEY,
    e164 text NOT NULL,
    address jsonb NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz NOT NULL,
    rejection text
);

ALTER TABLE sandbox_faults DROP CONSTRAINT sandbox_faults_operation_check;
ALTER TABLE sandbox_faults ADD CONSTRAINT sandbox_faults_operation_check CHECK (operation IN (
    'reserve', 'release', 'assign', 'unassign', 'ensure_target', 'cnam', 'e911'));

-- Premium approvals: a reservation holding premium numbers waits for an approver (the
-- tenant's admins, or its reseller's, per tenant policy) before it can be provisioned.
ALTER TABLE tenant_settings ADD COLUMN premium_approver text NOT NULL DEFAULT 'tenant_admin'
    CHECK (premium_approver IN ('none', 'tenant_admin', 'reseller'));
-- As with the E911 policy, tenants that exist now keep reserving as before.
UPDATE tenant_settings SET premium_approver = 'none';

CREATE TABLE approvals (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    reservation_id uuid NOT NULL UNIQUE REFERENCES reservations (id),
    requested_by uuid NOT NULL REFERENCES users (id),
    -- [{e164, premium, monthly_micros, setup_micros}] for each premium number of the reservation.
    numbers jsonb NOT NULL,
    justification text,
    approver text NOT NULL CHECK (approver IN ('tenant_admin', 'reseller')),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined', 'expired')),
    -- The hard cap: the hold lasts until then while it waits, and no longer.
    deadline timestamptz NOT NULL,
    decided_by uuid REFERENCES users (id),
    decided_at timestamptz,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'declined' OR reason IS NOT NULL),
    CHECK ((status IN ('approved', 'declined')) = (decided_by IS NOT NULL))
);
CREATE INDEX approvals_due ON approvals (deadline) WHERE status = 'pending';
CREATE INDEX approvals_tenant ON approvals (tenant_id, created_at DESC);

-- What the portal tells a user (an approval decided, …), newest first.
CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    tenant_id uuid REFERENCES organizations (id),
    message text NOT NULL,
    link text,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, id DESC);

-- Aging after release: when and by whom a number was released, and until when only that
-- tenant may take it back (NULL: offered to everyone). Nullable columns without a default
-- are added without rewriting the table.
ALTER TABLE numbers ADD COLUMN released_at timestamptz;
ALTER TABLE numbers ADD COLUMN released_by uuid REFERENCES organizations (id);
ALTER TABLE numbers ADD COLUMN aging_until timestamptz;
CREATE INDEX numbers_aging ON numbers (released_by, aging_until) WHERE aging_until IS NOT NULL;

CREATE TABLE reseller_settings (
    reseller_id uuid PRIMARY KEY REFERENCES organizations (id),
    -- 0: aging off (the default); 45 days is the usual regulatory minimum.
    aging_days integer NOT NULL DEFAULT 0 CHECK (aging_days BETWEEN 0 AND 365),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Porting in. A request carries the old account's details, the signed Letter of
-- Authorization (stored in the database, so every instance serves it) and the routing target
-- the numbers land on; each number has its own status, and every change is an event.
CREATE TABLE port_requests (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    requested_by uuid NOT NULL REFERENCES users (id),
    current_carrier text NOT NULL,
    account_number text NOT NULL,
    pin text NOT NULL,
    account_name text NOT NULL,
    service_address text NOT NULL,
    target_type text NOT NULL CHECK (target_type IN ('queue', 'extension', 'ivr')),
    target_id text NOT NULL,
    target_name text NOT NULL,
    loa bytea CHECK (loa IS NULL OR octet_length(loa) <= 1048576),
    loa_filename text,
    loa_uploaded_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX port_requests_tenant ON port_requests (tenant_id, created_at DESC);

CREATE TABLE port_numbers (
    port_id uuid NOT NULL REFERENCES port_requests (id),
    e164 text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN (
        'draft', 'submitted', 'acknowledged', 'foc_set', 'completed', 'rejected', 'cancelled')),
    reason text,
    foc_at timestamptz,
    provider_ref text,
    attempts integer NOT NULL DEFAULT 0,
    next_check_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (port_id, e164),
    CHECK (status <> 'rejected' OR reason IS NOT NULL)
);
-- A number is in at most one open port request.
CREATE UNIQUE INDEX port_numbers_one_open ON port_numbers (e164) WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX port_numbers_in_flight ON port_numbers (next_check_at) WHERE status IN ('submitted', 'acknowledged', 'foc_set');

CREATE TABLE port_events (
    id bigserial PRIMARY KEY,
    port_id uuid NOT NULL REFERENCES port_requests (id),
    e164 text,
    status text NOT NULL,
    message text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX port_events_port ON port_events (port_id, id);

-- Email to send; delivered by a job (SMTP, or the log when no SMTP server is configured).
CREATE TABLE outbox_emails (
    id bigserial PRIMARY KEY,
    to_address text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    transport text,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX outbox_emails_unsent ON outbox_emails (id) WHERE sent_at IS NULL;

-- The sandbox's losing carrier: answers on an accelerated clock from `submitted_at`.
CREATE TABLE sandbox_ports (
    ref text PRIMARY KEY,
    e164 text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    rejection text
);

ALTER TABLE sandbox_faults DROP CONSTRAINT sandbox_faults_operation_check;
ALTER TABLE sandbox_faults ADD CONSTRAINT sandbox_faults_operation_check CHECK (operation IN (
    'reserve', 'release', 'assign', 'unassign', 'ensure_target', 'cnam', 'e911', 'port'));
