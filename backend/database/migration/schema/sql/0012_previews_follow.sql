-- The side-car picture the catalogue took a model's preview from, as it was then: a rescan that sees another
-- picture (added, replaced: another size or mtime) or none (removed) changes the preview, without reading a
-- model. Keyed by the model's path, pending or active; written only once the picture compressed, so a
-- preview whose compression failed (the image service down) is tried again by the next scan.
CREATE TABLE sidecar_previews (
    path      text   PRIMARY KEY,
    sidecar   text   NOT NULL,
    size      bigint NOT NULL,
    mtime_ns  bigint NOT NULL
);

-- A content whose preview a person set: it wins over side-cars, the hub and headers until removed.
CREATE TABLE person_previews (
    sha256  text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    set_at  timestamptz NOT NULL DEFAULT now()
);

-- When a model's preview last changed: the image's address carries it, since hash-named previews are cached
-- as immutable and the same name may now show another picture.
ALTER TABLE models ADD COLUMN preview_at timestamptz;

-- What started a job, in words a person reads: page, command line, watcher, start-up, hub-auto, api.
ALTER TABLE jobs ADD COLUMN started_by text NOT NULL DEFAULT 'api';
