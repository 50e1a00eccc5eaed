-- A tenant proves it holds an external number it uploaded: a code sent to the number (SMS
-- or a voice call) and typed back. The number keeps when that was done.
ALTER TABLE numbers ADD COLUMN ownership_verified_at timestamptz;

-- The code waiting to be typed back, one per number: its hash, the tries and when it ends.
CREATE TABLE ownership_checks (
    e164 text PRIMARY KEY REFERENCES numbers (e164) ON DELETE CASCADE,
    org_id uuid NOT NULL REFERENCES organizations (id),
    channel text NOT NULL CHECK (channel IN ('sms', 'voice')),
    code_hash bytea NOT NULL,
    tries integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ownership_checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY organization_rows ON ownership_checks
    USING (inward_writes(org_id)) WITH CHECK (inward_writes(org_id));

-- What the sandbox carrier "sent": it has no phones, so its messages are kept for the
-- portal to show and for tests to read.
CREATE TABLE sandbox_messages (
    id bigserial PRIMARY KEY,
    e164 text NOT NULL,
    channel text NOT NULL,
    body text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_messages_number ON sandbox_messages (e164, id DESC);
