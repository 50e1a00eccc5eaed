-- Reseller inventory (issue #4): capabilities and carriers per number, who uploaded it, which
-- tenant a reseller allocated it to, CSV upload jobs with their staging rows, and a tenant
-- admin's assignment of numbers to users, trunks and SMS.

ALTER TABLE organizations ADD COLUMN allow_external_numbers boolean NOT NULL DEFAULT false;

-- Voice carriers and SMS carrier profiles. org_id NULL = offered to everyone.
CREATE TABLE carriers (
    id uuid PRIMARY KEY,
    org_id uuid REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('voice', 'sms')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX carriers_name ON carriers (coalesce(org_id, '00000000-0000-0000-0000-000000000000'), kind, lower(name));
CREATE UNIQUE INDEX carriers_one_default ON carriers (coalesce(org_id, '00000000-0000-0000-0000-000000000000'), kind) WHERE is_default;
INSERT INTO carriers (id, org_id, kind, name, is_default) VALUES
    ('00000000-0000-0000-0000-0000000000c1', NULL, 'voice', 'Sandbox Voice', true),
    ('00000000-0000-0000-0000-0000000000c2', NULL, 'sms', 'Sandbox SMS', true);

ALTER TABLE numbers
    ADD COLUMN voice boolean NOT NULL DEFAULT true,
    ADD COLUMN sms boolean NOT NULL DEFAULT false,
    ADD COLUMN fax boolean NOT NULL DEFAULT false,
    ADD COLUMN voice_carrier_id uuid REFERENCES carriers (id),
    ADD COLUMN sms_carrier_id uuid REFERENCES carriers (id),
    -- The organization that uploaded the number (NULL for carrier stock): only it may delete it.
    ADD COLUMN uploaded_by_org_id uuid REFERENCES organizations (id),
    -- "The reseller assigned this number to tenant X": only X is offered it.
    ADD COLUMN allocated_tenant_id uuid REFERENCES organizations (id),
    ADD COLUMN upload_id uuid;
-- The inventory page: keyset over e164 within the viewer's organizations.
CREATE INDEX numbers_inventory ON numbers (inventory_org_id, e164);
CREATE INDEX numbers_allocated ON numbers (allocated_tenant_id, e164) WHERE allocated_tenant_id IS NOT NULL;

CREATE TABLE inventory_uploads (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    filename text,
    mode text NOT NULL CHECK (mode IN ('all_or_nothing', 'valid_only')),
    dry_run boolean NOT NULL,
    status text NOT NULL CHECK (status IN (
        'receiving', 'validating', 'validated', 'importing', 'completed', 'aborted', 'failed')),
    progress smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    rows_total bigint NOT NULL DEFAULT 0,
    rows_to_add bigint NOT NULL DEFAULT 0,
    rows_to_update bigint NOT NULL DEFAULT 0,
    rows_unchanged bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    rejected_by_reason jsonb NOT NULL DEFAULT '{}',
    rows_added bigint NOT NULL DEFAULT 0,
    rows_updated bigint NOT NULL DEFAULT 0,
    error text,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX inventory_uploads_org ON inventory_uploads (org_id, created_at DESC);

-- Staging for uploads: COPY lands here, validation and merge are set-based statements over it.
-- Unlogged: it is scratch space, rebuilt by re-uploading if the server crashes.
CREATE UNLOGGED TABLE inventory_upload_rows (
    upload_id uuid NOT NULL,
    line_no integer NOT NULL,
    field_count integer NOT NULL,
    country_code text,
    phone text,
    voice text,
    sms text,
    fax text,
    voice_carrier text,
    sms_carrier text,
    tenant text,
    -- Set while streaming for non-NANP rows (the Rust parser), in SQL for NANP rows.
    e164 text,
    reason text,
    message text,
    action text CHECK (action IN ('add', 'update', 'unchanged')),
    country char(2),
    kind text,
    voice_b boolean,
    sms_b boolean,
    fax_b boolean,
    voice_carrier_id uuid,
    sms_carrier_id uuid,
    tenant_id uuid,
    PRIMARY KEY (upload_id, line_no)
);

-- A tenant admin's assignment of a number to a user's phone number, a trunk's default DID or
-- SMS. One row per number: a number serves one purpose at a time.
CREATE TABLE number_assignments (
    e164 text PRIMARY KEY REFERENCES numbers (e164) ON DELETE CASCADE,
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    kind text NOT NULL CHECK (kind IN ('user', 'trunk', 'sms')),
    assignee text NOT NULL CHECK (length(assignee) BETWEEN 1 AND 200),
    assigned_by uuid REFERENCES users (id),
    assigned_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX number_assignments_tenant ON number_assignments (tenant_id, e164);
