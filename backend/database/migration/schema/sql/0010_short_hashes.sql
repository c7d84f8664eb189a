-- The short hashes people look a model up by, per content: AutoV1 (A1111's old model_hash) and AutoV3 (the
-- SHA-256 of a safetensors file's bytes after its header), both computed by the hasher in the read that gave
-- the SHA-256. AutoV2 is the SHA-256's first 10 hex digits and is not stored. No row: the content was hashed
-- before these existed (or its hash came from another tool); hashing it again with force computes them.
CREATE TABLE model_short_hashes (
    sha256    text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- NULL: the file had none (1 MiB or less).
    autov1    text        CHECK (autov1 ~ '^[0-9a-f]{8}$'),
    -- NULL: not safetensors, no bytes after its header, or left out by MODELVAULT_AUTOV3.
    autov3    text        CHECK (autov3 ~ '^[0-9a-f]{12}$'),
    hashed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_short_hashes_autov1_idx ON model_short_hashes (autov1) WHERE autov1 IS NOT NULL;
CREATE INDEX model_short_hashes_autov3_idx ON model_short_hashes (autov3) WHERE autov3 IS NOT NULL;
-- AutoV2 and A1111's 12-digit LoRA hash are prefixes of the SHA-256: a range over the byte order, which
-- text_pattern_ops keeps whatever the database's collation (models_sha256_idx follows the collation).
CREATE INDEX models_sha256_prefix_idx ON models (sha256 text_pattern_ops);
