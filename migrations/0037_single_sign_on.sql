-- Single sign-on with OpenID Connect (src/sso): the identity providers the operator sets up
-- for a reseller or a tenant, the email domains that route to each, the sign-ins under way,
-- and users who sign in through one.

CREATE TABLE identity_providers (
    id uuid PRIMARY KEY,
    -- Users who sign in through it are this organization's users.
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 2000),
    client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 500),
    -- The client secret, sealed (AES-256-GCM, bound to the provider's id; src/secrets.rs).
    client_secret_sealed bytea NOT NULL,
    -- The ID token claim that carries the user's groups or role, and which of its values give
    -- which role ({"value": "role"}); a user the map does not place gets the lowest role.
    role_claim text CHECK (length(role_claim) BETWEEN 1 AND 100),
    role_map jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(role_map) = 'object'),
    -- The organization's users may not sign in with a password while this provider exists.
    required boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_providers_org ON identity_providers (org_id);

-- An email domain routes to one provider, whichever organization it belongs to.
CREATE TABLE identity_provider_domains (
    domain text PRIMARY KEY CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
    provider_id uuid NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE
);
CREATE INDEX identity_provider_domains_provider ON identity_provider_domains (provider_id);

-- A sign-in sent to a provider and not yet back: taken (deleted) by the one callback that
-- presents its state, so a replayed callback finds nothing.
CREATE TABLE sso_logins (
    state_hash bytea PRIMARY KEY,
    provider_id uuid NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    nonce text NOT NULL,
    pkce_verifier text NOT NULL,
    next_path text NOT NULL,
    -- Where the provider sends the browser back to, sent again with the code.
    redirect_uri text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sso_logins_expiry ON sso_logins (expires_at);

-- A user who signs in through a provider is known by the provider's subject, which outlives
-- a changed email address; such a user may have no password.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD COLUMN identity_provider_id uuid REFERENCES identity_providers (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN sso_subject text CHECK (length(sso_subject) <= 255);
CREATE UNIQUE INDEX users_sso_subject ON users (identity_provider_id, sso_subject)
    WHERE identity_provider_id IS NOT NULL;

-- The operator sets providers up, changes and removes them; an organization's admins read
-- theirs and may make it required, and nothing else (the trigger below: the application
-- checks the same, this is the second wall). Sign-in reads them before any caller is known
-- (the authentication bypass).
ALTER TABLE identity_providers ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON identity_providers FOR SELECT USING (inward_writes(org_id));
CREATE POLICY operator_inserts ON identity_providers FOR INSERT
    WITH CHECK (inward_scope() = 'all');
CREATE POLICY operator_deletes ON identity_providers FOR DELETE USING (inward_scope() = 'all');
CREATE POLICY updaters ON identity_providers FOR UPDATE
    USING (inward_writes(org_id)) WITH CHECK (inward_writes(org_id));
CREATE FUNCTION identity_providers_narrowed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF inward_scope() <> 'all'
       AND (NEW.id, NEW.org_id, NEW.name, NEW.issuer, NEW.client_id, NEW.client_secret_sealed,
            NEW.role_claim, NEW.role_map, NEW.created_at)
           IS DISTINCT FROM
           (OLD.id, OLD.org_id, OLD.name, OLD.issuer, OLD.client_id, OLD.client_secret_sealed,
            OLD.role_claim, OLD.role_map, OLD.created_at) THEN
        RAISE EXCEPTION 'an organization changes only whether its identity provider is required'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER identity_providers_narrowed BEFORE UPDATE ON identity_providers
    FOR EACH ROW EXECUTE FUNCTION identity_providers_narrowed();
ALTER TABLE identity_provider_domains ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON identity_provider_domains FOR SELECT USING (inward_scope() = 'all'
    OR EXISTS (SELECT 1 FROM identity_providers p WHERE p.id = provider_id));
CREATE POLICY operator_writes ON identity_provider_domains
    USING (inward_scope() = 'all') WITH CHECK (inward_scope() = 'all');
ALTER TABLE sso_logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY sign_in_only ON sso_logins USING (inward_scope() = 'all');
