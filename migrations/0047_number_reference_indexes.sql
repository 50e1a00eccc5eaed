-- Deleting a number from the inventory checks every row that refers to it. Without an index
-- that leads with the number, each check read the whole table: every hold ever taken (the
-- only index of holds by number covers live holds), every provisioning attempt, every alert
-- contact. Deleting 200,000 numbers beside 19,000 holds took minutes.
CREATE INDEX holds_number ON holds (e164);
CREATE INDEX provisioning_attempts_number ON provisioning_attempts (e164);
CREATE INDEX e911_contacts_number ON e911_contacts (e164);
CREATE INDEX release_attempts_number ON release_attempts (e164);
CREATE INDEX reroute_attempts_number ON reroute_attempts (e164);
