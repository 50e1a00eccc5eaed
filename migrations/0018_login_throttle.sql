-- Failed sign-ins per email address (its SHA-256, lower-cased, whether or not an account
-- has it, so a lock says nothing about which addresses exist). After five failures the
-- address is locked for a minute, doubling with each further failure up to fifteen
-- minutes; a successful sign-in clears it. In the database, so every instance counts the
-- same attempts.
CREATE TABLE login_throttle (
    email_digest bytea PRIMARY KEY,
    failures integer NOT NULL,
    locked_until timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
