-- Library jobs (scan, hash, import): one row per job; the gateway that runs it beats its heart here,
-- so a job whose gateway died is found by the next one and never stays 'running'.
CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL,
    params       jsonb       NOT NULL DEFAULT '{}',
    -- kind + folder for jobs started through POST /api/jobs; NULL for the synchronous endpoints'
    -- jobs, which may run side by side (several gateways share one queue).
    exclusive_key text,
    state        text        NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    files_done   bigint      NOT NULL DEFAULT 0,
    files_total  bigint      NOT NULL DEFAULT 0,
    bytes_done   bigint      NOT NULL DEFAULT 0,
    bytes_total  bigint      NOT NULL DEFAULT 0,
    errors       bigint      NOT NULL DEFAULT 0,
    current      text,
    result       jsonb,
    error_code   text,
    error        text,
    -- Set by POST /api/jobs/{id}/cancel on any gateway; the owner stops the job at its next heartbeat.
    cancel_requested boolean NOT NULL DEFAULT false,
    -- The gateway process that runs the job, and when it last said it is alive.
    owner        text        NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
-- One live job per kind and folder: a second POST gets 409 with the first one's id.
CREATE UNIQUE INDEX jobs_one_live_idx ON jobs (exclusive_key) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_live_idx ON jobs (heartbeat_at) WHERE state IN ('queued', 'running');

-- The job that holds a pending row's lease: its rows return to the queue as soon as it is found dead.
ALTER TABLE pending_models ADD COLUMN claimed_by bigint;
CREATE INDEX pending_models_claimed_by_idx ON pending_models (claimed_by) WHERE claimed_by IS NOT NULL;
