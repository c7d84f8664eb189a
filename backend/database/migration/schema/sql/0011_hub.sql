-- What the hub (Civitai, or a server speaking its API) said about a content, asked by its SHA-256.
-- Keyed by hash like model_metadata: every copy of a model shares it. No row: never asked (unchecked).
CREATE TABLE hub_lookups (
    sha256     text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- found: its fields are in model_metadata (source 'civitai'); not_found: asked again after a week or on
    -- refresh; failed: the hub did not answer usably, asked again by the next job.
    state      text        NOT NULL CHECK (state IN ('found', 'not_found', 'failed')),
    checked_at timestamptz NOT NULL DEFAULT now(),
    -- The model version's page on the hub that answered (found only).
    url        text,
    -- Why the last look-up failed (failed only), as the job reported it.
    error      text
);
CREATE INDEX hub_lookups_state_idx ON hub_lookups (state, checked_at);
