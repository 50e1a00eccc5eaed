-- Searches outnumber every other event by far and change nothing: they get a table of their
-- own, kept for `audit.search_retention_days`, so the audit log (append-only and hash-chained)
-- holds lifecycle, configuration and access events. Ids come from the audit log's sequence, so
-- a listing of both pages by one id. Searches logged before stay in the audit log, sealed.
CREATE TABLE search_log (
    id bigint PRIMARY KEY DEFAULT nextval('audit_log_id_seq'),
    at timestamptz NOT NULL DEFAULT now(),
    tenant_id uuid,
    user_id uuid,
    org_id uuid,
    status text NOT NULL,
    error_message text,
    request_id text,
    details jsonb
);
CREATE INDEX search_log_tenant ON search_log (tenant_id, id DESC);
CREATE INDEX search_log_at ON search_log (at);
