-- Actions grow with the product (inventory, CNAM, E911, porting, connections); the Rust
-- `audit::Action` enum is the list, the database only insists on the shape.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action ~ '^[A-Z][A-Z0-9_]{1,31}$');
