-- When each user last signed in, for their admins' Users page. A table of its own rather
-- than a column of `users`: every change to `users` retires every instance's cached callers
-- (migration 0008), and a sign-in must not.
CREATE TABLE user_sign_ins (
    user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    last_at timestamptz NOT NULL
);
