-- The monthly cost report reads, per tenant and number, when each number became the
-- tenant's (PROVISION) and stopped being (RELEASE, DEPROVISION).
CREATE INDEX audit_log_number_uses ON audit_log (tenant_id, phone_number, at)
    WHERE status = 'SUCCESS' AND action IN ('PROVISION', 'RELEASE', 'DEPROVISION');
