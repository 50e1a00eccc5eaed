-- Numbers are digit strings: compare them byte by byte (issue 6).
--
-- The database's collation (C.UTF-8 here, en_US elsewhere) made every comparison of e164,
-- national, npa, nxx, state, country, kind and rate center a strcoll() call; a B-tree insert
-- makes a few dozen of them per index and a 1,000,000-row upload writes seven indexes, so
-- collation alone cost about a fifth of the upload's merge (measured on a copy of `numbers`:
-- 30.9 s with the database collation, 24.1 s with "C"). For digits, '+' and the ASCII codes
-- in these columns, "C" orders exactly as every other collation does, so no result changes.
-- `city` keeps the database collation: its index is on lower(city), and lower() under "C"
-- folds ASCII letters only.
--
-- With "C", a plain index on `national` serves LIKE '512%' as a range and ORDER BY national
-- at once, so the area-code and exchange searches become prefix ranges on `national` (the
-- area code and exchange are its first six digits, which the CHECK below makes a rule
-- instead of a habit of every INSERT), and the two indexes kept for them go: every upload
-- writes two indexes fewer.
--
-- On a live database of 10 million numbers this rebuilds the indexes on these columns
-- (a few minutes, under an exclusive lock): run it in a maintenance window.

DROP INDEX IF EXISTS numbers_search_npa;
DROP INDEX IF EXISTS numbers_search_npa_national;
DROP INDEX IF EXISTS numbers_search_pattern;

ALTER TABLE numbers
    ALTER COLUMN e164 TYPE text COLLATE "C",
    ALTER COLUMN national TYPE text COLLATE "C",
    ALTER COLUMN npa TYPE char(3) COLLATE "C",
    ALTER COLUMN nxx TYPE char(3) COLLATE "C",
    ALTER COLUMN state TYPE char(2) COLLATE "C",
    ALTER COLUMN country TYPE char(2) COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN rate_center TYPE text COLLATE "C",
    ADD CONSTRAINT numbers_npa_nxx_lead_national
        CHECK (npa = substr(national, 1, 3) AND nxx = substr(national, 4, 3));

-- Area code, exchange and vanity patterns with fixed leading digits: a range of `national`,
-- walked in the order the results are shown.
CREATE INDEX IF NOT EXISTS numbers_search_national ON numbers (national)
    WHERE lifecycle IN ('available', 'released');
