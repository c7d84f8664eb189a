-- What the library searches and filters by beyond the path: each model row carries its content's model type,
-- base model and searchable facts (names, version, trigger words, base model, a person's notes and tags), kept
-- in step with model_metadata by triggers, so a search or a filter is one indexed query over models, never a join per row.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One spelling per model type, whoever said it: the header's words (checkpoint, lora, ...) and the hub's
-- (Checkpoint, LORA, LoCon, TextualInversion, ...). NULL is "unknown".
CREATE FUNCTION model_kind(said text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN k IS NULL OR k IN ('', 'unknown', 'other') THEN NULL
        WHEN k IN ('lora', 'locon', 'lycoris', 'dora', 'loha', 'lokr') THEN 'lora'
        WHEN k IN ('textualinversion', 'embedding', 'ti') THEN 'embedding'
        WHEN k = 'textencoder' THEN 'text_encoder'
        ELSE k
    END
    FROM (SELECT regexp_replace(lower(said), '[^a-z0-9]', '', 'g') AS k) AS spelt
$$;

-- The header's architecture as a base model, when nobody named one: the words the hub uses for them.
CREATE FUNCTION architecture_base_model(architecture text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE architecture
        WHEN 'sd1' THEN 'SD 1.x' WHEN 'sd2' THEN 'SD 2.x' WHEN 'sdxl' THEN 'SDXL'
        WHEN 'sdxl_refiner' THEN 'SDXL Refiner' WHEN 'sd3' THEN 'SD 3' WHEN 'flux' THEN 'Flux'
        WHEN 'unknown' THEN NULL WHEN '' THEN NULL
        ELSE architecture
    END
$$;

-- A metadata value as searchable text: a string as it is, a list of words one per line.
CREATE FUNCTION metadata_text(value jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(value)
        WHEN 'array' THEN (SELECT string_agg(word, E'\n') FROM jsonb_array_elements_text(value) AS word)
        WHEN 'string' THEN value #>> '{}'
        ELSE NULL
    END
$$;

CREATE FUNCTION model_facts_of(content text, OUT kind text, OUT base_model text, OUT facts text)
LANGUAGE sql STABLE AS $$
    SELECT model_kind(max(metadata_text(value)) FILTER (WHERE field = 'model_type')),
           coalesce(nullif(btrim(max(metadata_text(value)) FILTER (WHERE field = 'base_model')), ''),
                    architecture_base_model(max(metadata_text(value)) FILTER (WHERE field = 'architecture'))),
           nullif(string_agg(metadata_text(value), E'\n' ORDER BY field)
                  FILTER (WHERE field IN ('model_name', 'version_name', 'title', 'base_model',
                                          'trained_words', 'trigger_words', 'notes', 'tags')), '')
    FROM model_metadata WHERE sha256 = content
$$;

ALTER TABLE models
    ADD COLUMN kind       text,
    ADD COLUMN base_model text,
    ADD COLUMN facts      text;

UPDATE models SET (kind, base_model, facts) = (SELECT f.kind, f.base_model, f.facts FROM model_facts_of(sha256) AS f)
WHERE sha256 IN (SELECT sha256 FROM model_metadata);

-- Computed after the BEFORE trigger below has set facts, so it is never stale.
ALTER TABLE models
    ADD COLUMN search_text text GENERATED ALWAYS AS (path || E'\n' || coalesce(facts, '')) STORED;

CREATE INDEX models_search_trgm_idx ON models USING gin (search_text gin_trgm_ops);
CREATE INDEX models_kind_idx ON models (kind);
CREATE INDEX models_base_model_idx ON models (base_model);
-- The folder tree counts models per folder.
CREATE INDEX models_folder_idx ON models (folder);

-- A row that gets a hash takes what is known of that content.
CREATE FUNCTION models_take_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.sha256 IS DISTINCT FROM OLD.sha256 THEN
        SELECT f.kind, f.base_model, f.facts INTO NEW.kind, NEW.base_model, NEW.facts FROM model_facts_of(NEW.sha256) AS f;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER models_take_facts BEFORE INSERT OR UPDATE OF sha256 ON models
    FOR EACH ROW EXECUTE FUNCTION models_take_facts();

-- Metadata written for some contents: their rows are updated once per statement (a job writes a batch of
-- fields for hundreds of contents at once), and only where something changed.
CREATE FUNCTION models_follow_metadata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE models AS m SET kind = f.kind, base_model = f.base_model, facts = f.facts
    FROM (SELECT DISTINCT sha256 FROM touched) AS c, LATERAL model_facts_of(c.sha256) AS f
    WHERE m.sha256 = c.sha256
      AND (m.kind, m.base_model, m.facts) IS DISTINCT FROM (f.kind, f.base_model, f.facts);
    RETURN NULL;
END
$$;
CREATE TRIGGER model_metadata_inserted AFTER INSERT ON model_metadata
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION models_follow_metadata();
CREATE TRIGGER model_metadata_updated AFTER UPDATE ON model_metadata
    REFERENCING NEW TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION models_follow_metadata();
CREATE TRIGGER model_metadata_deleted AFTER DELETE ON model_metadata
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION models_follow_metadata();
