-- The data folder whose lock the job's gateway held (a gateway owning its embedded PostgreSQL alone holds
-- <data dir>/gateway.lock for its life); NULL for a gateway on DATABASE_URL, which shares the database with
-- others. A gateway that takes the same lock at start knows every such job's gateway is dead: the kernel
-- released the lock with it. It interrupts those jobs at once instead of waiting for their heartbeat to age.
ALTER TABLE jobs ADD COLUMN owner_data_dir text;
