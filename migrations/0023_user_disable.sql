-- An admin can disable a user of its organization: the user can no longer sign in, and its
-- sessions and API tokens are ended when it is disabled.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
