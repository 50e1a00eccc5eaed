-- Aging after release defaults to 45 days, the FCC's minimum before a disconnected number is
-- reassigned (FCC 18-177, 47 CFR 52.15(f)(1)(ii)); a reseller without a setting ages its
-- tenants' released numbers that long. A shorter period is the reseller's explicit choice,
-- recorded with who acknowledged it and when.
ALTER TABLE reseller_settings ALTER COLUMN aging_days SET DEFAULT 45;
ALTER TABLE reseller_settings ADD COLUMN short_aging_acknowledged_by uuid
    REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE reseller_settings ADD COLUMN short_aging_acknowledged_at timestamptz;
