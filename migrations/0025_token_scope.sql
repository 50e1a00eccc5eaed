-- An API token may act with less than its user's role (a tenant admin's token for an
-- automation that only searches and provisions). NULL: the user's role, whatever it is.
ALTER TABLE api_tokens ADD COLUMN scope text
    CHECK (scope IN ('operator', 'reseller_admin', 'tenant_admin', 'tenant_user'));
