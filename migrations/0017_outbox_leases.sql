-- The mail job claims outbox rows with a lease and commits before it talks to the SMTP
-- relay, so a relay that accepts and stalls holds no row lock and no transaction; a
-- claim whose instance died lapses and the email is sent by a later pass (at least once).
ALTER TABLE outbox_emails ADD COLUMN claimed_until timestamptz;
