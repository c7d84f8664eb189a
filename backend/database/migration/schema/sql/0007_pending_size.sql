-- A pending file's size as found by the scan or the registration: a hash job knows the bytes it has ahead
-- of it from its start (its progress bar and time left), and asks for small files without progress.
-- Rows from before this column have none; a job learns their size as it hashes them.
ALTER TABLE pending_models ADD COLUMN size bigint;
