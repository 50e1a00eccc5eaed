-- Search at 10 million numbers (issue 6). Every search orders by `national` and stops
-- after a page (keyset on `national`), so each index ends in `national`: PostgreSQL then
-- walks the index in order and stops after LIMIT rows instead of sorting every match.

-- State searches (local) and toll-free searches: in `national` order within country, kind
-- and state. Replaces the (country, kind, state, npa, nxx, national) index, whose order
-- forced a sort of a whole state's numbers.
CREATE INDEX IF NOT EXISTS numbers_search_state_national ON numbers (country, kind, state, national)
    WHERE lifecycle IN ('available', 'released');
DROP INDEX IF EXISTS numbers_search_state;

-- Area-code searches (with or without a state) in `national` order; NPA-NXX searches keep
-- numbers_search_npa (npa, nxx, national).
CREATE INDEX IF NOT EXISTS numbers_search_npa_national ON numbers (npa, national)
    WHERE lifecycle IN ('available', 'released');

-- Vanity patterns that end in fixed digits (`XXX-XXX-CALL`, `8XX-OUR-FOOD`, the common
-- case) are a prefix match on the reversed number: one in 10,000 numbers ends in four
-- given digits, so this finds them in a short range scan. A pg_trgm GIN index was tried
-- first and measured worse: phone numbers have only 1,000 distinct digit trigrams, so
-- each posting list covers a large part of the table (60-80 ms a search at 10M rows,
-- against about 5 ms here). Patterns with a fixed start use the (npa, national) and
-- (national text_pattern_ops) indexes; unanchored ones (`CALL` anywhere) walk the
-- state or toll-free index in order and filter.
CREATE INDEX IF NOT EXISTS numbers_search_suffix ON numbers (reverse(national) text_pattern_ops)
    WHERE lifecycle IN ('available', 'released');

-- Toll-free searches without an area code: the toll-free numbers alone, in `national` order.
CREATE INDEX IF NOT EXISTS numbers_search_toll_free ON numbers (national)
    WHERE kind = 'toll_free' AND lifecycle IN ('available', 'released');

-- The status-sync job looks for `pending` numbers every few seconds: a handful among
-- millions, so they get their own small index instead of a scan of the table.
CREATE INDEX IF NOT EXISTS numbers_pending ON numbers (state_changed_at) WHERE lifecycle = 'pending';
