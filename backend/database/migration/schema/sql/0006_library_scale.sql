-- What the library page sorts and filters by, derived from the path so it can never disagree with it.
-- name: the file name without its extension; folder: the parent folder; ext: the extension, lower case.
ALTER TABLE models
    ADD COLUMN name   text GENERATED ALWAYS AS (regexp_replace(path, '^.*/|\.[^./]*$', '', 'g')) STORED,
    ADD COLUMN folder text GENERATED ALWAYS AS (regexp_replace(path, '/[^/]*$', '')) STORED,
    ADD COLUMN ext    text GENERATED ALWAYS AS (lower(substring(path FROM '\.([^./]*)$'))) STORED;

-- Keyset paging: each order ends with the path, which is unique, so a page starts exactly after the last.
CREATE INDEX models_name_order_idx ON models (lower(name), path);
CREATE INDEX models_size_order_idx ON models (size, path);
CREATE INDEX models_mtime_order_idx ON models (mtime_ns, path);

-- Substring search over paths ("q"): trigram index where the server has pg_trgm (the embedded server and the
-- compose image do); without it a search scans the table, which stays usable at 100,000 rows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX models_path_trgm_idx ON models USING gin (path gin_trgm_ops);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pg_trgm cannot be created by this user: path search will scan the table';
        END;
    END IF;
END
$$;
