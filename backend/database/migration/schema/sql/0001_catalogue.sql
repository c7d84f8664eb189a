-- Active models: one row per file path; two files with the same content share a hash.
CREATE TABLE models (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path        text        NOT NULL UNIQUE,
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint      NOT NULL CHECK (size >= 0),
    mtime_ns    bigint      NOT NULL,
    -- st_ino and st_dev are unsigned 64-bit: numeric holds all of them.
    inode       numeric(20) NOT NULL,
    device      numeric(20) NOT NULL,
    -- "<sha256>.webp" when a preview exists, else NULL.
    image_key   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_sha256_idx ON models (sha256);

-- Pending models: found on disk, not hashed yet. The table is also the work queue.
CREATE TABLE pending_models (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path          text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    -- "pending/<name>.webp", or with a suffix when another pending file has the same name.
    image_key     text        NOT NULL UNIQUE,
    discovered_at timestamptz NOT NULL DEFAULT now()
);
