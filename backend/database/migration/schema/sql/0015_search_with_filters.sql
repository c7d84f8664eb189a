-- The model type and base model filters in the search's own index: a search with a filter is then one index
-- scan over both. With two indexes, the planner chose between combining them and reading the word's rows to
-- filter them, by estimates that change with each ANALYZE: a word and a filter that never meet ("pony" among
-- LoRAs where Pony is only a checkpoint's base) then read every row of the word. btree_gin gives GIN the
-- columns' equality; a multi-column GIN index serves a condition on any of its columns alone as well.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE INDEX models_search_filters_idx ON models USING gin (search_text gin_trgm_ops, kind, base_model);
DROP INDEX models_search_trgm_idx;
