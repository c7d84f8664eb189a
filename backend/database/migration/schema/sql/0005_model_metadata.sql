-- What other tools knew about a content (names, versions, trigger words, hub ids), one row per field,
-- with the tool it came from. Keyed by hash, not path: every copy of a model shares it.
CREATE TABLE model_metadata (
    sha256     text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    field      text        NOT NULL,
    value      jsonb       NOT NULL,
    source     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, field)
);

-- Active records whose hash came from another tool instead of being read: `verify` re-reads them.
CREATE TABLE legacy_hashes (
    path          text        PRIMARY KEY,
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    sources       text[]      NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    -- Set once the file was read: its real hash (equal to sha256 unless the legacy hash was wrong).
    verified_at   timestamptz,
    real_sha256   text        CHECK (real_sha256 ~ '^[0-9a-f]{64}$')
);
