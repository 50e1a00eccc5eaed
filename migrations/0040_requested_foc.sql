-- The FOC date the tenant asked for (a business day 3 business days to 30 days out), sent to
-- the carrier with each number; empty when the carrier is to give the earliest it can.
ALTER TABLE port_requests ADD COLUMN requested_foc date;
