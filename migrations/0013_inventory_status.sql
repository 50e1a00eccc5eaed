-- The inventory page filtered by status (issue #6). With 10,000,000 numbers, nearly all of them
-- available, `lifecycle = 'released' ORDER BY e164 LIMIT 50` read the whole table (0.7 s). Held
-- numbers ('reserved', 'provisioning') are left out so that a hold, the hot path, writes no entry
-- here: those few are found by `numbers_reservation`.
CREATE INDEX IF NOT EXISTS numbers_by_lifecycle ON numbers (lifecycle, e164)
    WHERE lifecycle NOT IN ('available', 'reserved', 'provisioning');
