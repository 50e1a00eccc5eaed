-- The status-sync job asks the platform whether a `pending` number is active yet. It used to
-- hold the number's row lock for the whole pass, platform calls included: with a slow or
-- failing platform, a person releasing or rerouting one of those 200 numbers waited for the
-- job. Now the job claims numbers by writing this lease and commits before it calls out; the
-- lease keeps other instances off the number meanwhile, and lapses if the instance dies.
ALTER TABLE numbers ADD COLUMN activation_claimed_until timestamptz;
