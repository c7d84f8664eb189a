-- The pending table as a work queue: a worker leases a row (claimed_until), so several gateways share
-- the work without hashing a file twice, and a crashed worker's rows come back when the lease ends.
ALTER TABLE pending_models ADD COLUMN claimed_until timestamptz;
-- Why the last attempt failed (a missing file, a file changing while read), for the user to see.
ALTER TABLE pending_models ADD COLUMN last_error text;
CREATE INDEX pending_models_queue_idx ON pending_models (discovered_at, id);
