-- Webhooks: the endpoints an organization registers, the events Inward tells them of, and
-- each delivery of an event to an endpoint (src/webhooks).
--
-- Events are written by the database, in the transaction that writes the audit entry (or
-- the drift row) describing the change: an outbox. A change that rolls back leaves no event;
-- one that commits leaves its event and a pending delivery per subscribed endpoint, which the
-- dispatcher sends after commit, however the writing process ends.

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    -- A tenant's endpoints hear of its events; a reseller's, of its own and its tenants'.
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 64),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    -- The signing secret, sealed (AES-256-GCM, bound to the endpoint's id; src/secrets.rs).
    secret_sealed bytea NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    -- Why it was switched off: by its admins, or after a run of failed attempts.
    disabled_reason text,
    -- Failed attempts since the last one that succeeded.
    failure_run integer NOT NULL DEFAULT 0 CHECK (failure_run >= 0),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id) WHERE enabled;

CREATE TABLE webhook_events (
    id uuid PRIMARY KEY,
    type text NOT NULL CHECK (type ~ '^[a-z0-9_]+\.[a-z0-9_]+$'),
    occurred_at timestamptz NOT NULL,
    -- The organization the event is about: a tenant, or a reseller for its own events.
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    phone_number text,
    -- What happened, as recorded: the audit entry's fields, or the drift row.
    source jsonb NOT NULL,
    -- The envelope as first sent; every later attempt sends these bytes again.
    body text
);
CREATE INDEX webhook_events_org ON webhook_events (org_id, occurred_at DESC);

CREATE TABLE webhook_deliveries (
    -- Also the order: an endpoint gets the events of one number in the order they happened.
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- Deliveries with the same key to the same endpoint go one at a time, oldest first: the
    -- number, or the subject of an event about no number.
    order_key text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- The dispatcher that is sending it, until when (a dead one's lease lapses).
    leased_until timestamptz,
    lease_owner uuid,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_duration_ms integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((status = 'pending') = (finished_at IS NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, order_key, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- The event an audit entry announces, if any. src/domain/webhook.rs holds the same table
-- (`EventType::for_audit`); a test checks that the two agree.
CREATE FUNCTION webhook_event_type(action text, status text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN action = 'RESERVE' AND status = 'SUCCESS' THEN 'number.reserved'
        WHEN action = 'EXPIRE' THEN 'number.hold_expired'
        WHEN action = 'PROVISION' AND status = 'SUCCESS' THEN 'number.provisioned'
        WHEN action = 'PROVISION' AND status = 'FAILURE' THEN 'number.provision_failed'
        WHEN action = 'REROUTE' AND status = 'SUCCESS' THEN 'number.rerouted'
        WHEN action = 'RELEASE' AND status = 'SUCCESS' THEN 'number.released'
        WHEN action = 'ORPHAN' THEN 'number.orphaned'
        WHEN action = 'APPROVAL_REQUEST' THEN 'approval.requested'
        WHEN action IN ('APPROVE', 'DECLINE') THEN 'approval.decided'
        WHEN action IN ('PORT_SUBMIT', 'PORT_CANCEL', 'PORT_STATUS') THEN 'port.status_changed'
        WHEN action = 'E911' THEN 'e911.status_changed'
        WHEN action = 'CNAM' THEN 'cnam.status_changed'
        WHEN action = 'UPLOAD' THEN 'upload.completed'
    END
$$;

-- Writes the event and a delivery to each enabled endpoint that subscribed to it: the
-- organization's own and its reseller's; nothing at all when none did (the audit trigger
-- asks that first, on its hot path; a drift row, rare, is written and taken back).
-- With the owner's rights: the writer's own scope may not see its reseller's endpoints.
CREATE FUNCTION webhook_emit(event_type text, about uuid, phone text, ordered_by text,
                             recorded jsonb, at timestamptz) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    made uuid;
    reseller uuid;
BEGIN
    SELECT parent_id INTO reseller FROM organizations WHERE id = about;
    made := gen_random_uuid();
    INSERT INTO webhook_events (id, type, occurred_at, org_id, phone_number, source)
    VALUES (made, event_type, at, about, phone, recorded);
    -- Locked, so that an endpoint deleted meanwhile is skipped instead of failing the
    -- change that announces the event.
    INSERT INTO webhook_deliveries (event_id, endpoint_id, order_key)
    SELECT made, e.id, ordered_by FROM webhook_endpoints e
     WHERE e.enabled AND e.org_id IN (about, reseller) AND event_type = ANY (e.events)
     ORDER BY e.id
       FOR KEY SHARE OF e;
    IF NOT FOUND THEN
        DELETE FROM webhook_events WHERE id = made;
    END IF;
END $$;
-- Only the triggers (with the owner's rights) write events.
REVOKE EXECUTE ON FUNCTION webhook_emit(text, uuid, text, text, jsonb, timestamptz) FROM PUBLIC;

CREATE FUNCTION webhook_from_audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kind text := webhook_event_type(NEW.action, NEW.status);
    about uuid := coalesce(NEW.tenant_id, NEW.org_id);
BEGIN
    -- The common case, no endpoint wants it, costs this one query.
    IF kind IS NULL OR about IS NULL OR NOT EXISTS (
        SELECT 1 FROM webhook_endpoints e
         WHERE e.enabled AND kind = ANY (e.events)
           AND e.org_id IN (about, (SELECT o.parent_id FROM organizations o WHERE o.id = about))) THEN
        RETURN NULL;
    END IF;
    PERFORM webhook_emit(
        kind, about, NEW.phone_number,
        coalesce(NEW.phone_number, kind || ':' || coalesce(NEW.target_id, NEW.details ->> 'port_id',
                 NEW.details ->> 'approval_id', NEW.id::text)),
        jsonb_build_object(
            'audit_id', NEW.id, 'action', NEW.action, 'status', NEW.status,
            'user_id', NEW.user_id, 'target_type', NEW.target_type, 'target_id', NEW.target_id,
            'error', NEW.error_message, 'justification', NEW.justification,
            'details', NEW.details),
        NEW.at);
    RETURN NULL;
END $$;

-- Only the entries that can announce something reach the function: a search or a sign-in
-- costs nothing more than before.
CREATE TRIGGER audit_log_webhooks AFTER INSERT ON audit_log FOR EACH ROW
    WHEN (NEW.action IN ('RESERVE', 'EXPIRE', 'PROVISION', 'REROUTE', 'RELEASE', 'ORPHAN',
                         'APPROVAL_REQUEST', 'APPROVE', 'DECLINE', 'PORT_SUBMIT', 'PORT_CANCEL',
                         'PORT_STATUS', 'E911', 'CNAM', 'UPLOAD'))
    EXECUTE FUNCTION webhook_from_audit();

-- A difference reconciliation found, or one whose kind changed: the run rewrites the rows it
-- still finds, and those announce nothing new.
CREATE FUNCTION webhook_from_drift() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM webhook_emit(
        'number.drift_detected', NEW.tenant_id, NEW.e164, NEW.e164,
        jsonb_build_object('class', NEW.class, 'inward', NEW.inward, 'platform', NEW.platform,
                           'inward_target', NEW.inward_target,
                           'platform_target', NEW.platform_target),
        now());
    RETURN NULL;
END $$;
CREATE TRIGGER drift_webhooks_new AFTER INSERT ON drift FOR EACH ROW
    EXECUTE FUNCTION webhook_from_drift();
CREATE TRIGGER drift_webhooks_changed AFTER UPDATE ON drift FOR EACH ROW
    WHEN (OLD.class IS DISTINCT FROM NEW.class)
    EXECUTE FUNCTION webhook_from_drift();

-- An organization's admins manage its endpoints; a reseller does not manage its tenants'.
-- Deliveries are read through their endpoint; events like the audit entries they come from.
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON webhook_endpoints
    USING (inward_writes(org_id)) WITH CHECK (inward_writes(org_id));
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON webhook_deliveries USING (inward_scope() = 'all'
    OR (EXISTS (SELECT 1 FROM webhook_endpoints p WHERE p.id = endpoint_id)
        AND EXISTS (SELECT 1 FROM webhook_events v WHERE v.id = event_id)));
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON webhook_events
    USING (inward_sees(org_id)) WITH CHECK (inward_sees(org_id));

-- A test event for one of the caller's own endpoints (NULL when it has no such endpoint).
CREATE FUNCTION webhook_send_test(endpoint uuid, source jsonb) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    made uuid := gen_random_uuid();
    owning_org uuid;
BEGIN
    SELECT org_id INTO owning_org FROM webhook_endpoints
     WHERE id = endpoint AND inward_writes(org_id) FOR KEY SHARE;
    IF owning_org IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_events (id, type, occurred_at, org_id, source)
    VALUES (made, 'webhook.test', now(), owning_org, source);
    INSERT INTO webhook_deliveries (event_id, endpoint_id, order_key)
    VALUES (made, endpoint, 'test:' || made);
    RETURN made;
END $$;
