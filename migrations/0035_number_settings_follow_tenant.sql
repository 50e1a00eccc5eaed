-- A number's caller-ID name, 911 address and assignment (owned by the features and inventory
-- slices) belong to the tenant that holds the number or to which it is allocated. Whichever
-- path moves the number, in the same statement: when it is released or deprovisioned, what
-- its tenant set on it goes; when it otherwise leaves a tenant (a hold that lapsed) or its
-- allocation moves, the rows of every tenant that neither holds it nor has it allocated go.
-- The schema's counterpart of ON DELETE CASCADE for a change of tenant. The owner's rights
-- are needed because row-level security hides other tenants' rows from the runtime role.
CREATE FUNCTION number_settings_follow_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    left_for_good boolean := NEW.lifecycle IN ('released', 'deprovisioned');
BEGIN
    DELETE FROM cnam_records WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    DELETE FROM e911_records WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    DELETE FROM number_assignments WHERE e164 = NEW.e164 AND tenant_id IS DISTINCT FROM NEW.tenant_id
       AND (left_for_good OR tenant_id IS DISTINCT FROM NEW.allocated_tenant_id);
    RETURN NULL;
END $$;

-- Holds take numbers from nobody (tenant_id NULL → a tenant): the trigger does not fire on the
-- hot path.
CREATE TRIGGER numbers_settings_follow_tenant
    AFTER UPDATE OF tenant_id, allocated_tenant_id ON numbers
    FOR EACH ROW
    WHEN ((OLD.tenant_id IS NOT NULL AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
       OR (OLD.allocated_tenant_id IS NOT NULL AND OLD.allocated_tenant_id IS DISTINCT FROM NEW.allocated_tenant_id))
    EXECUTE FUNCTION number_settings_follow_tenant();

-- Rows an earlier tenant left behind before this rule existed.
DELETE FROM cnam_records c USING numbers n WHERE n.e164 = c.e164
   AND c.tenant_id IS DISTINCT FROM n.tenant_id AND c.tenant_id IS DISTINCT FROM n.allocated_tenant_id;
DELETE FROM e911_records e USING numbers n WHERE n.e164 = e.e164
   AND e.tenant_id IS DISTINCT FROM n.tenant_id AND e.tenant_id IS DISTINCT FROM n.allocated_tenant_id;
DELETE FROM number_assignments a USING numbers n WHERE n.e164 = a.e164
   AND a.tenant_id IS DISTINCT FROM n.tenant_id AND a.tenant_id IS DISTINCT FROM n.allocated_tenant_id;

DROP FUNCTION drop_stale_number_records(uuid, text[]);
