-- Row-level security: a second wall behind the application's own tenant checks. Each
-- connection of the runtime role carries its caller's scope in settings the server sets when
-- it hands the connection out (src/db_scope.rs):
--   inward.scope   'org' for a tenant's or reseller's request, 'all' for work that spans
--                  organizations by design (jobs, sign-in, the operator), anything else: none
--   inward.org     the caller's organization
--   inward.kind    'tenant' or 'reseller'
--   inward.parent  a tenant's reseller
-- A connection with no scope sees no row of these tables and can write none. Superusers and
-- the tables' owner (migrations, `inward db setup-roles`) are not subject to the policies.

CREATE FUNCTION inward_scope() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('inward.scope', true), '')
$$;

CREATE FUNCTION inward_org() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('inward.org', true), '')::uuid
$$;

-- Reads the tree with the owner's rights, so that a policy may ask who a tenant's reseller
-- is without reading organizations through the caller's own scope.
CREATE FUNCTION inward_parent_of(org uuid) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT parent_id FROM organizations WHERE id = org
$$;

-- A row of organization `org` belongs to the caller: its own, or one of a reseller's tenants'.
CREATE FUNCTION inward_sees(org uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT inward_scope() = 'all'
        OR (inward_scope() = 'org' AND org IS NOT NULL
            AND (org = inward_org()
                 OR (current_setting('inward.kind', true) = 'reseller'
                     AND inward_parent_of(org) = inward_org())))
$$;

-- A tenant reads some of its reseller's rows (the reseller's carriers, its aging rule).
CREATE FUNCTION inward_sees_parent(org uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT inward_scope() = 'org'
        AND org = nullif(current_setting('inward.parent', true), '')::uuid
$$;

-- Rows that carry their organization.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('connections', 'tenant_id'), ('tenant_settings', 'tenant_id'),
        ('cnam_records', 'tenant_id'), ('e911_records', 'tenant_id'),
        ('approvals', 'tenant_id'), ('port_requests', 'tenant_id'),
        ('drift', 'tenant_id'), ('reconcile_runs', 'tenant_id'),
        ('idempotency_keys', 'tenant_id'), ('provisioning_attempts', 'tenant_id'),
        ('release_attempts', 'tenant_id'), ('reservations', 'tenant_id'),
        ('number_assignments', 'tenant_id'), ('sandbox_targets', 'tenant_id'),
        ('sandbox_assignments', 'tenant_id'), ('inventory_uploads', 'org_id')
    ) AS v (name, org_column) LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format(
            'CREATE POLICY organization_rows ON %I USING (inward_sees(%I)) WITH CHECK (inward_sees(%I))',
            t.name, t.org_column, t.org_column);
    END LOOP;
END;
$$;

-- A reseller's own rows that its tenants read but do not write; the platform's carriers
-- (no organization) are everyone's to read and the operator's alone to change.
ALTER TABLE carriers ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON carriers FOR SELECT
    USING ((org_id IS NULL AND inward_scope() IN ('org', 'all'))
           OR inward_sees(org_id) OR inward_sees_parent(org_id));
CREATE POLICY organization_rows ON carriers USING (inward_sees(org_id));
ALTER TABLE reseller_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON reseller_settings FOR SELECT
    USING (inward_sees(reseller_id) OR inward_sees_parent(reseller_id));
CREATE POLICY organization_rows ON reseller_settings USING (inward_sees(reseller_id));

-- Users are seen by their organization and its reseller, but changed only by their own
-- organization (an admin manages its own users; a reseller cannot mint its tenants' users,
-- sessions or tokens).
CREATE FUNCTION inward_writes(org uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT inward_scope() = 'all' OR (inward_scope() = 'org' AND org = inward_org())
$$;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON users FOR SELECT USING (inward_sees(org_id));
CREATE POLICY organization_rows ON users USING (inward_writes(org_id));

-- The tree itself: a directory every scoped caller reads (names of the organizations its rows
-- mention); only the operator adds or removes an organization, and a reseller changes only its
-- tenants (which columns: see NARROWED in src/roles.rs; never the parent or the kind).
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON organizations FOR SELECT USING (inward_scope() IN ('org', 'all'));
CREATE POLICY organization_rows ON organizations
    USING (inward_scope() = 'all'
           OR (current_setting('inward.kind', true) = 'reseller' AND inward_scope() = 'org'
               AND parent_id = inward_org()));

-- Mail waiting for the relay: any scoped request queues some; only the mail job reads it.
ALTER TABLE outbox_emails ENABLE ROW LEVEL SECURITY;
CREATE POLICY writers ON outbox_emails FOR INSERT WITH CHECK (inward_scope() IN ('org', 'all'));
CREATE POLICY organization_rows ON outbox_emails USING (inward_scope() = 'all');

-- Rows that belong to a parent row: visible and writable when the parent is (the parent's
-- own policy decides).
-- An upload's checked rows are among them; the upload pipeline itself runs with a named
-- bypass (src/db_scope.rs), so the check is paid by requests, not per staged row. The raw
-- staging rows (inventory_upload_rows) stay without a policy: PostgreSQL refuses COPY into a
-- table with row-level security, and COPY is how an upload streams in.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('holds', 'reservation_id', 'reservations'), ('port_numbers', 'port_id', 'port_requests'),
        ('port_events', 'port_id', 'port_requests'),
        ('inventory_upload_checked', 'upload_id', 'inventory_uploads'),
        ('notifications', 'user_id', 'users')
    ) AS v (name, parent_key, parent) LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', c.name);
        EXECUTE format('CREATE POLICY organization_rows ON %I USING (inward_scope() = ''all''
            OR EXISTS (SELECT 1 FROM %I p WHERE p.id = %I))', c.name, c.parent, c.parent_key);
    END LOOP;
END;
$$;

-- A user's sessions, tokens and last sign-in: read with the user, written only by the user's
-- own organization.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sessions', 'api_tokens', 'user_sign_ins'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY readers ON %I FOR SELECT USING (inward_scope() = ''all''
            OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id))', t);
        EXECUTE format('CREATE POLICY organization_rows ON %I USING (inward_scope() = ''all''
            OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND inward_writes(u.org_id)))', t);
    END LOOP;
END;
$$;

-- The logs: an entry of a tenant (or, for an organization's own events, of that
-- organization); entries of no organization are the operator's. A scoped caller adds entries
-- about organizations it sees (a reseller about its tenants) or about none; none may change
-- one.
CREATE FUNCTION inward_may_log(org uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT inward_scope() = 'all' OR (inward_scope() = 'org' AND (org IS NULL OR inward_sees(org)))
$$;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON audit_log FOR SELECT
    USING (inward_sees(coalesce(tenant_id, org_id)));
CREATE POLICY scoped_writers ON audit_log FOR INSERT
    WITH CHECK (inward_may_log(coalesce(tenant_id, org_id)));
ALTER TABLE search_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON search_log FOR SELECT
    USING (inward_sees(coalesce(tenant_id, org_id)));
CREATE POLICY scoped_writers ON search_log FOR INSERT
    WITH CHECK (inward_may_log(coalesce(tenant_id, org_id)));
CREATE POLICY pruning ON search_log FOR DELETE USING (inward_scope() = 'all');

-- What a caller may know of a user of another organization it deals with (the reseller
-- admin who decided its approval, the operator behind an audit entry): the email alone, by
-- id, read with the owner's rights.
CREATE FUNCTION inward_user_email(id uuid) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT email FROM users WHERE users.id = inward_user_email.id
$$;
CREATE FUNCTION inward_user_by_email(wanted text) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp AS $$
    SELECT id FROM users WHERE lower(email) = lower(wanted)
$$;

-- A tenant's CNAM, E911 address and assignment of a number go with the number; rows an
-- earlier holder left (a hold that lapsed after a name was set) are invisible to the next
-- tenant, so they are dropped here, with the owner's rights: only rows of numbers the tenant
-- now holds or has been allocated, set by another.
CREATE FUNCTION drop_stale_number_records(tenant uuid, wanted text[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM cnam_records c USING numbers n
     WHERE n.e164 = c.e164 AND (n.tenant_id = tenant OR n.allocated_tenant_id = tenant) AND c.tenant_id <> tenant
       AND (wanted IS NULL OR n.e164 = ANY (wanted));
    DELETE FROM e911_records e USING numbers n
     WHERE n.e164 = e.e164 AND (n.tenant_id = tenant OR n.allocated_tenant_id = tenant) AND e.tenant_id <> tenant
       AND (wanted IS NULL OR n.e164 = ANY (wanted));
    DELETE FROM number_assignments a USING numbers n
     WHERE n.e164 = a.e164 AND (n.tenant_id = tenant OR n.allocated_tenant_id = tenant) AND a.tenant_id <> tenant
       AND (wanted IS NULL OR n.e164 = ANY (wanted));
$$;
