-- Inventory follow-ups (issue #4): the acting organization on audit entries, so a reseller's
-- scoped audit log shows its own uploads, allocations and carrier changes; an index for the
-- upload sweeper. Carriers keep their 0003 shape: a reseller's own carriers have org_id = the
-- reseller, the operator's are global (org_id NULL), and `is_default` marks at most one per
-- (org, kind); an organization's own default wins over the global one.

-- Append-only: adding a nullable column rewrites nothing and old entries keep NULL.
ALTER TABLE audit_log ADD COLUMN org_id uuid;
CREATE INDEX audit_log_org ON audit_log (org_id, id DESC) WHERE org_id IS NOT NULL;

-- The sweeper looks for unfinished uploads that stopped moving.
CREATE INDEX inventory_uploads_unfinished ON inventory_uploads (updated_at)
    WHERE status IN ('receiving', 'validating', 'importing');
