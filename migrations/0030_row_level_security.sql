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
        ('sandbox_assignments', 'tenant_id'), ('inventory_uploads', 'org_id'),
        ('users', 'org_id')
    ) AS v (name, org_column) LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format(
            'CREATE POLICY organization_rows ON %I USING (inward_sees(%I)) WITH CHECK (inward_sees(%I))',
            t.name, t.org_column, t.org_column);
    END LOOP;
END;
$$;

-- A reseller's own rows that its tenants read but do not write; the platform's carriers
-- (no organization) are everyone's to read.
ALTER TABLE carriers ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON carriers
    USING ((org_id IS NULL AND inward_scope() IN ('org', 'all'))
           OR inward_sees(org_id) OR inward_sees_parent(org_id))
    WITH CHECK (inward_sees(org_id));
ALTER TABLE reseller_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON reseller_settings
    USING (inward_sees(reseller_id) OR inward_sees_parent(reseller_id))
    WITH CHECK (inward_sees(reseller_id));

-- Rows that belong to a parent row: visible and writable when the parent is (the parent's
-- own policy decides).
ALTER TABLE holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON holds
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM reservations r WHERE r.id = reservation_id));
ALTER TABLE port_numbers ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON port_numbers
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM port_requests p WHERE p.id = port_id));
ALTER TABLE port_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON port_events
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM port_requests p WHERE p.id = port_id));
-- An upload's checked rows; the upload pipeline itself runs with a named bypass
-- (src/db_scope.rs), so this check is paid by requests, not per staged row. The raw staging
-- rows (inventory_upload_rows) stay without a policy: PostgreSQL refuses COPY into a table
-- with row-level security, and COPY is how an upload streams in.
ALTER TABLE inventory_upload_checked ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON inventory_upload_checked
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM inventory_uploads u WHERE u.id = upload_id));
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON sessions
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id));
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON api_tokens
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id));
ALTER TABLE user_sign_ins ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON user_sign_ins
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id));
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON notifications
    USING (inward_scope() = 'all' OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id));

-- The logs: an entry of a tenant (or, for an organization's own events, of that
-- organization); entries of no organization are the operator's. Any scoped connection may
-- add an entry (an event may concern another organization: a reseller's change to its
-- tenant, an aging number going back to the tenant that released it); none may change one.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON audit_log FOR SELECT
    USING (inward_sees(coalesce(tenant_id, org_id)));
CREATE POLICY scoped_writers ON audit_log FOR INSERT
    WITH CHECK (inward_scope() IN ('all', 'org'));
ALTER TABLE search_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON search_log FOR SELECT
    USING (inward_sees(coalesce(tenant_id, org_id)));
CREATE POLICY scoped_writers ON search_log FOR INSERT
    WITH CHECK (inward_scope() IN ('all', 'org'));
CREATE POLICY pruning ON search_log FOR DELETE USING (inward_scope() = 'all');
