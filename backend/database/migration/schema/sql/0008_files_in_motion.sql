-- A file whose identity no longer matches its record (replaced, rewritten) goes back to the queue; until it is
-- hashed again its record keeps its place and preview, and says since when its hash is only the previous one.
ALTER TABLE models ADD COLUMN changed_at timestamptz;
CREATE INDEX models_changed_idx ON models (changed_at) WHERE changed_at IS NOT NULL;

-- A file is hashed once it has stood still: the mtime the scan last saw (a change between two scans means the
-- file is still being written), and the moment before which no job takes the row.
ALTER TABLE pending_models ADD COLUMN mtime_ns bigint, ADD COLUMN settle_until timestamptz;
