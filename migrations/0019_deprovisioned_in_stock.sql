-- A deprovisioned number is back in stock like a released one: it is reservable, so the
-- search offers it too. The search indexes are partial on the stock states and the search
-- writes the same list (`numbers::offer::IN_STOCK_SQL`); PostgreSQL uses a partial index
-- only when the query's predicate implies the index's, so they are rebuilt on the new list.
-- On a large table this holds a lock on `numbers` while the indexes build.

DROP INDEX IF EXISTS numbers_search_rate_center;
CREATE INDEX numbers_search_rate_center ON numbers (state, rate_center, national)
    WHERE lifecycle IN ('available', 'released', 'deprovisioned');

DROP INDEX IF EXISTS numbers_search_city;
CREATE INDEX numbers_search_city ON numbers (state, lower(city), national)
    WHERE lifecycle IN ('available', 'released', 'deprovisioned');

DROP INDEX IF EXISTS numbers_search_state_national;
CREATE INDEX numbers_search_state_national ON numbers (country, kind, state, national)
    WHERE lifecycle IN ('available', 'released', 'deprovisioned');

DROP INDEX IF EXISTS numbers_search_toll_free;
CREATE INDEX numbers_search_toll_free ON numbers (national)
    WHERE kind = 'toll_free' AND lifecycle IN ('available', 'released', 'deprovisioned');

DROP INDEX IF EXISTS numbers_search_suffix_kind;
CREATE INDEX numbers_search_suffix_kind ON numbers (kind, reverse(national) text_pattern_ops, state, npa)
    WHERE lifecycle IN ('available', 'released', 'deprovisioned');

DROP INDEX IF EXISTS numbers_search_national;
CREATE INDEX numbers_search_national ON numbers (national)
    WHERE lifecycle IN ('available', 'released', 'deprovisioned');
