-- Row-level security on the numbers (see 0030 for the scope settings). A caller sees
--   its own numbers: held, in service, porting in, or in its own inventory;
--   for a reseller, also its inventory, every number its tenants hold, and the stock they
--   released while it ages (whichever inventory it went back to);
--   for a tenant, the stock offered to it: held by nobody, in the platform's or its
--   reseller's inventory, allocated to nobody or to it, and not aging for another tenant
--   (the offer rule of src/numbers/offer.rs, less the country, which hides nothing).
-- Another tenant's numbers, their targets and names included, are never visible.
--
-- PL/pgSQL, so that the planner does not inline it: inlined, this expression made planning
-- any statement on `numbers` several times slower (docs/performance.md, Row-level
-- security). Work that spans organizations never calls it (the policy's first test).
CREATE FUNCTION inward_sees_number(
    tenant uuid, inventory uuid, allocated uuid, released_by uuid, aging_until timestamptz
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN inward_scope() = 'org'
        AND (inward_sees(tenant) OR inward_sees(inventory)
             OR (tenant IS NULL AND aging_until > now() AND inward_sees(released_by))
             OR (tenant IS NULL
                 AND current_setting('inward.kind', true) = 'tenant'
                 AND (inventory = '00000000-0000-0000-0000-000000000001'::uuid
                      OR inventory = nullif(current_setting('inward.parent', true), '')::uuid)
                 AND (allocated IS NULL OR allocated = inward_org())
                 AND (aging_until IS NULL OR aging_until <= now() OR released_by = inward_org())));
END
$$;

ALTER TABLE numbers ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON numbers FOR SELECT
    USING (inward_scope() = 'all'
           OR inward_sees_number(tenant_id, inventory_org_id, allocated_tenant_id, released_by, aging_until));
CREATE POLICY organization_changes ON numbers FOR UPDATE
    USING (inward_scope() = 'all'
           OR inward_sees_number(tenant_id, inventory_org_id, allocated_tenant_id, released_by, aging_until))
    WITH CHECK (inward_scope() = 'all'
           OR inward_sees_number(tenant_id, inventory_org_id, allocated_tenant_id, released_by, aging_until));
CREATE POLICY organization_removals ON numbers FOR DELETE
    USING (inward_scope() = 'all'
           OR inward_sees_number(tenant_id, inventory_org_id, allocated_tenant_id, released_by, aging_until));
-- A new number is the caller's own, or in its own inventory: never stock slipped into the
-- platform's or a reseller's inventory for other tenants to be offered.
CREATE POLICY organization_additions ON numbers FOR INSERT
    WITH CHECK (inward_scope() = 'all' OR inward_sees(tenant_id) OR inward_sees(inventory_org_id));

-- A tenant takes, routes and releases numbers; which inventory a number belongs to and whom
-- it is allocated to are its reseller's to decide. A policy cannot compare a row with what
-- it was, so a trigger refuses a tenant's change to either.
CREATE FUNCTION numbers_tenant_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF inward_scope() = 'org' AND current_setting('inward.kind', true) = 'tenant'
       AND (NEW.inventory_org_id IS DISTINCT FROM OLD.inventory_org_id
            OR NEW.allocated_tenant_id IS DISTINCT FROM OLD.allocated_tenant_id) THEN
        RAISE EXCEPTION 'a tenant cannot move a number to another inventory or allocation'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER numbers_tenant_changes BEFORE UPDATE OF inventory_org_id, allocated_tenant_id
    ON numbers FOR EACH ROW EXECUTE FUNCTION numbers_tenant_changes();

-- The available-number search reads the stock through this view, with its owner's rights:
-- under a policy, PostgreSQL may not use a condition that is not leakproof (LIKE, reverse(),
-- lower()) to walk an index, and the search's vanity, suffix and city lookups would scan
-- whole states. The view shows stock alone (held by nobody, in a state a reservation starts
-- from), to connections with a scope: a request's, or 'stock', which the search's own pool
-- sets when it connects (src/state.rs). The search applies the offer rule itself. The
-- runtime role only reads it (src/roles.rs): written through, it would bypass the policy.
CREATE VIEW numbers_in_stock AS
    SELECT * FROM numbers
     WHERE lifecycle IN ('available', 'released', 'deprovisioned') AND tenant_id IS NULL
       AND inward_scope() IN ('org', 'all', 'stock');

-- The full reservation path judges every number asked for: in stock, held by someone else
-- (a race to report, or a lapsed hold to end), or hidden. A number held by another tenant
-- is invisible under the policy, so its offer facts are read here with the owner's rights,
-- locked for the reservation, and only for numbers of inventories offered to the caller.
-- Who holds it is not the caller's to know: another holder reads as the nil id.
CREATE FUNCTION number_offer_facts(wanted text[])
RETURNS TABLE (e164 text, lifecycle text, tenant_id uuid, country text, inventory_org_id uuid,
               allocated_tenant_id uuid, released_by uuid, aging_until timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.e164, n.lifecycle,
           CASE WHEN n.tenant_id IS NULL OR n.tenant_id = inward_org() OR inward_scope() = 'all'
                THEN n.tenant_id
                ELSE '00000000-0000-0000-0000-000000000000'::uuid END,
           n.country::text, n.inventory_org_id, n.allocated_tenant_id, n.released_by, n.aging_until
      FROM numbers n
     WHERE n.e164 = ANY (wanted)
       AND (inward_scope() = 'all'
            OR (inward_scope() = 'org' AND current_setting('inward.kind', true) = 'tenant'
                AND (n.tenant_id = inward_org()
                     OR (n.inventory_org_id IN ('00000000-0000-0000-0000-000000000001'::uuid,
                                                inward_org(),
                                                nullif(current_setting('inward.parent', true), '')::uuid)
                         AND (n.allocated_tenant_id IS NULL
                              OR n.allocated_tenant_id = inward_org())))))
     ORDER BY n.e164
       FOR UPDATE OF n
$$;

-- Which of these numbers Inward knows, whoever holds them: a port-in must not start for a
-- number already on the network, even one another tenant holds. Only the numbers asked
-- about, and nothing of them but that they exist.
CREATE FUNCTION numbers_known(wanted text[]) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e164 FROM numbers WHERE e164 = ANY (wanted) AND inward_scope() IN ('org', 'all')
$$;
