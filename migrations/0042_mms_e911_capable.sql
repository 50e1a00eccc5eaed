-- Two more things a number can carry, as its carrier provisions it: MMS, and 911 service
-- (a dispatchable location can be registered for it). MMS is off unless the inventory says
-- so; 911 follows the number's kind (local numbers have it, toll-free numbers do not) unless
-- the inventory says otherwise, so the column is NULL for "by kind" and adding it rewrites
-- no row.
ALTER TABLE numbers ADD COLUMN mms boolean NOT NULL DEFAULT false,
                    ADD COLUMN e911_capable boolean;

ALTER TABLE inventory_upload_rows ADD COLUMN mms text, ADD COLUMN e911 text;
ALTER TABLE inventory_upload_checked ADD COLUMN mms boolean, ADD COLUMN e911_capable boolean;

-- The search's view lists the columns `numbers` had when it was made: made again, it has the
-- new ones too (same rows, same rights).
CREATE OR REPLACE VIEW numbers_in_stock AS
    SELECT * FROM numbers
     WHERE lifecycle IN ('available', 'released', 'deprovisioned') AND tenant_id IS NULL
       AND inward_scope() IN ('org', 'all', 'stock');
