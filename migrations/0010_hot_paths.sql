-- Vanity searches with fixed trailing digits (`XXX-XXX-CALL`, `8XX-OUR-FOOD`): the suffix
-- index of 0005 found every number of every kind and state ending that way (about 1,000 of
-- 10 million per four digits) and fetched each row from the heap to test its state, area
-- code and kind: 150-350 ms cold. Leading with kind and carrying state and area code lets
-- the index itself discard the numbers of other states or area codes, so only the rows
-- the search returns are fetched (under 1 ms at 10 million numbers).
--
-- On a live database of that size, build it by hand first with CREATE INDEX CONCURRENTLY
-- (same definition); IF NOT EXISTS then makes this a no-op.
CREATE INDEX IF NOT EXISTS numbers_search_suffix_kind
    ON numbers (kind, reverse(national) text_pattern_ops, state, npa)
    WHERE lifecycle IN ('available', 'released');
DROP INDEX IF EXISTS numbers_search_suffix;

-- A reservation's holds are read and written by reservation everywhere (provider
-- references, cancel, provisioning, approvals), and `holds` grows with every hold ever
-- taken: without this each of those statements scanned the whole table.
CREATE INDEX IF NOT EXISTS holds_by_reservation ON holds (reservation_id, e164);
