-- Dispatchable locations a tenant saves once and gives to many numbers (one per site or
-- floor). A number registered from one keeps its id, and changing the saved address
-- re-registers every number that uses it.
CREATE TABLE e911_addresses (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    label text NOT NULL CHECK (length(label) BETWEEN 1 AND 60),
    street text NOT NULL,
    location text,
    city text NOT NULL,
    state char(2) NOT NULL,
    zip text NOT NULL CHECK (zip ~ '^[0-9]{5}(-[0-9]{4})?$'),
    country char(2) NOT NULL DEFAULT 'US',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX e911_addresses_label ON e911_addresses (tenant_id, lower(label));
-- The key numbers refer to it by, with the tenant in it: a number's record can only name an
-- address of its own tenant.
ALTER TABLE e911_addresses ADD CONSTRAINT e911_addresses_tenant_key UNIQUE (tenant_id, id);
ALTER TABLE e911_addresses ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON e911_addresses
    USING (inward_sees(tenant_id)) WITH CHECK (inward_sees(tenant_id));

-- A saved address in use cannot be deleted: its numbers would lose their 911 location.
ALTER TABLE e911_records ADD COLUMN address_id uuid;
ALTER TABLE e911_records ADD CONSTRAINT e911_records_address_fkey
    FOREIGN KEY (tenant_id, address_id) REFERENCES e911_addresses (tenant_id, id);
CREATE INDEX e911_records_address ON e911_records (address_id) WHERE address_id IS NOT NULL;

-- Who is alerted when 911 is dialed from a tenant's numbers (Kari's Law): the tenant's own
-- contacts (e164 NULL) and those of one number.
CREATE TABLE e911_contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES organizations (id),
    e164 text REFERENCES numbers (e164) ON DELETE CASCADE,
    name text NOT NULL,
    email text,
    phone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
CREATE INDEX e911_contacts_tenant ON e911_contacts (tenant_id, e164);
ALTER TABLE e911_contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON e911_contacts
    USING (inward_sees(tenant_id)) WITH CHECK (inward_sees(tenant_id));

-- A number's own contacts go with the number, as its caller-ID name and 911 address do.
CREATE OR REPLACE FUNCTION number_settings_follow_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    left_for_good boolean := NEW.lifecycle IN ('released', 'deprovisioned');
BEGIN
    DELETE FROM cnam_records WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    DELETE FROM e911_records WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    DELETE FROM e911_contacts WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    DELETE FROM number_assignments WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    RETURN NULL;
END $$;

-- The sandbox's address guide can be made to fail, as its other operations can.
ALTER TABLE sandbox_faults DROP CONSTRAINT sandbox_faults_operation_check;
ALTER TABLE sandbox_faults ADD CONSTRAINT sandbox_faults_operation_check CHECK (operation IN (
    'reserve', 'release', 'assign', 'assign_answer', 'unassign', 'ensure_target', 'cnam', 'e911',
    'address_check', 'port'));
