-- A number is held for one port only while the carriers work on it (submitted, acknowledged,
-- FOC set). A draft or rejected request holds nothing, so no tenant can block another's port
-- by leaving a draft; each tenant still has at most one open request per number (checked
-- where requests are created), and drafts expire (`porting.draft_expiry_days`).
DROP INDEX IF EXISTS port_numbers_one_open;
CREATE UNIQUE INDEX port_numbers_one_in_flight ON port_numbers (e164)
    WHERE status IN ('submitted', 'acknowledged', 'foc_set');
CREATE INDEX port_numbers_open ON port_numbers (e164) WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX port_numbers_drafts ON port_numbers (updated_at) WHERE status = 'draft';
