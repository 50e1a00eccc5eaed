-- A port request of more than 100 numbers goes to the carrier as several orders of at most
-- 100, each a port request of its own (its own status, events and submission); the orders
-- made from one request share its batch.
ALTER TABLE port_requests ADD COLUMN batch_id uuid;
CREATE INDEX port_requests_batch ON port_requests (batch_id) WHERE batch_id IS NOT NULL;
