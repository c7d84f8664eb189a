"""Reading the catalogue page by page: filters, orders and keyset paging over active models, and duplicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database.db import MODEL_COLUMNS
from backend.database.search_probes import TrigramShares

# Each row's imported metadata as one JSON object text, {field: value}: a page is one query, and its JSON
# goes into the answer as it is, never parsed and written again in Python. The long fields stay out of pages:
# the header's own key-value pairs and training facts, the hub's description (up to 20,000 characters) and its
# pictures' addresses (up to 20); a card never shows them, GET /api/models/{sha256} does (a page of 100 models
# would carry megabytes of them).
_METADATA = """coalesce((SELECT jsonb_object_agg(m.field, m.value) FROM model_metadata AS m
                          WHERE m.sha256 = models.sha256
                            AND m.field NOT IN ('embedded_metadata', 'training', 'description', 'hub_images')),
                        '{}')::text
               AS metadata"""
# Each order is an index of 0006_library_scale.sql; the path breaks ties, so a key names one row.
SORT_KEYS = {"path": "path", "name": "lower(name)", "size": "size", "date": "mtime_ns"}
# A text search counts its matches up to this many: a common word's exact count would read every row it is in
# (a tenth of the library, to show one number), where a page needs 60. Beyond it the total is "at least".
# Searches with at most this many matches sort them instead of walking an order's index.
SEARCH_COUNT_LIMIT = 1000
# With words too short for the trigram index, how many of the rows the long words find are read to count them.
_SHORT_WORD_READS = 4 * SEARCH_COUNT_LIMIT


@dataclass(frozen=True)
class ModelQuery:
    limit: int
    offset: int = 0
    sort: str = "path"
    descending: bool = False
    # Keyset paging: the sort key and path of the last row of the previous page.
    after: tuple[Any, str] | None = None
    # What the search box asks for (?q=): words to find, or a pasted hash.
    search: str | None = None
    folder: str | None = None
    ext: str | None = None
    # Model type and base model as the catalogue spells them (model_kind() of 0013_search.sql); UNKNOWN for none.
    kind: str | None = None
    base_model: str | None = None
    # Only contents the person marked a favourite (PUT /api/models/{sha256}/notes).
    favourite: bool = False


UNKNOWN = "unknown"
# A pasted hash: a full SHA-256 or its AutoV2 (the first 10 hex digits), as other tools show and write them.
_HASH = re.compile(r"[0-9a-fA-F]{10,64}")
# Trigrams need three characters: a search whose words are all shorter cannot use the index.
_INDEXED_WORD = 3


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_words(search: str) -> list[str]:
    return search.split()


def _words_condition(words: list[str], args: list[Any], shares: TrigramShares | None) -> str | None:
    """Every word somewhere in the path or the content's facts: the index is asked for each word's cheapest
    part (search_probes), and the whole word is checked on what it lets through."""
    conditions = []
    for word in words:
        probe = shares.probe(word) if shares is not None else word.lower()
        args.append(_like_pattern(probe))
        # search_text is lower-cased (0014_search_lowered.sql): LIKE on it is ILIKE without its per-row cost.
        conditions.append(f"search_text LIKE lower(${len(args)})")
        if probe != word.lower():
            args.append(_like_pattern(word))
            # An expression, not the column: the planner checks it on the probe's rows instead of giving it
            # to the index, which would read every trigram of the word again.
            conditions.append(f"(search_text || '') LIKE lower(${len(args)})")
    return " AND ".join(conditions) if conditions else None


def _search(search: str, words: list[str], args: list[Any], shares: TrigramShares | None) -> str | None:
    """The words (some of the search's), or the search is the start of the SHA-256."""
    condition = _words_condition(words, args, shares)
    text = search.strip()
    if _HASH.fullmatch(text):
        # The range lets the sha256 index find it; starts_with keeps it exact whatever the collation.
        args.extend((text.lower(), text.lower() + "g"))
        condition = (f"(({condition or 'true'}) OR (sha256 >= ${len(args) - 1} AND sha256 < ${len(args)}"
                     f" AND starts_with(sha256, ${len(args) - 1})))")
    return f"({condition})" if condition else None


def _filters(query: ModelQuery, args: list[Any], shares: TrigramShares | None, words: list[str] | None = None
             ) -> list[str]:
    """The WHERE conditions of the query's filters (of its search, only the words given, or all); their
    parameters are appended to args."""
    where: list[str] = []
    if query.search:
        searched = _search(query.search, search_words(query.search) if words is None else words, args, shares)
        if searched:
            where.append(searched)
    if query.folder:
        args.append(query.folder.rstrip("/") + "/")
        where.append(f"starts_with(path, ${len(args)})")
    if query.ext:
        args.append(query.ext)
        where.append(f"ext = ${len(args)}")
    # A type asked for in any tool's words (LORA, LoCon, TextualInversion) is spelt as the catalogue spells it.
    for column, value, spelt in (("kind", query.kind, "model_kind({})"), ("base_model", query.base_model, "{}")):
        if value == UNKNOWN:
            where.append(f"{column} IS NULL")
        elif value is not None:
            args.append(value)
            where.append(f"{column} = {spelt.format(f'${len(args)}')}")
    if query.favourite:
        # model_metadata's key (sha256, field) finds each row's flag.
        where.append("EXISTS (SELECT 1 FROM model_metadata AS y WHERE y.sha256 = models.sha256"
                     " AND y.field = 'favourite' AND y.source = 'you')")
    return where


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _indexed_words(search: str) -> list[str]:
    return [word for word in search_words(search) if len(word) >= _INDEXED_WORD]


def _indexed(query: ModelQuery) -> bool:
    """A search the trigram (or the hash) index can answer."""
    assert query.search is not None
    return _HASH.fullmatch(query.search.strip()) is not None or bool(_indexed_words(query.search))


@dataclass(frozen=True)
class Count:
    """How many models match: every one when exact; otherwise at least this many."""

    total: int
    exact: bool


async def count_models(conn: asyncpg.Connection, query: ModelQuery, shares: TrigramShares | None = None) -> Count:
    """How many rows match the filters: a first page pays it, not every page. A text search reads a bounded number
    of the rows its long words let through (every one of them, when its index finds few)."""
    args: list[Any] = []
    if not query.search:
        return Count(await conn.fetchval("SELECT count(*) FROM models" + _where(_filters(query, args, None)), *args),
                     True)
    # The rows the long words find (through the trigram index), up to a bound; among them, those that have the
    # short words too. Where every word is long, each row read is a match: SEARCH_COUNT_LIMIT + 1 of them say
    # "more than it". A short word ("v3", "xl") needs no index and may be in few of the rows read: a few times
    # more are read for it, so that "dragon v3" is not the exact count of every dragon's rows.
    indexed = _indexed_words(query.search)
    short = [word for word in search_words(query.search) if len(word) < _INDEXED_WORD]
    inner = _filters(query, args, shares, indexed)
    rest = _words_condition(short, args, None)
    bound = SEARCH_COUNT_LIMIT + 1 if rest is None else _SHORT_WORD_READS
    args.append(bound)
    counted = await _bounded_count(
        conn, f"""SELECT count(*) FILTER (WHERE {rest or 'true'}) AS matches, count(*) AS read
                  FROM (SELECT search_text FROM models{_where(inner)} LIMIT ${len(args)}) AS found""",
        args, indexed=_indexed(query))
    if counted["read"] < bound:
        return Count(counted["matches"], True)
    return Count(min(counted["matches"], SEARCH_COUNT_LIMIT), False)


# A search's plan depends on its words: a plan made once for any words (PostgreSQL's generic plan, which a
# prepared statement gets after a few runs) may sort every row of a common word to show one page.
_PLAN_FOR_THESE_WORDS = "SET LOCAL plan_cache_mode = force_custom_plan"
# ... and only through the trigram index's bitmap (see _bounded_count): one statement, one round trip.
_THROUGH_THE_BITMAP = f"{_PLAN_FOR_THESE_WORDS}; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"


async def _bounded_count(conn: asyncpg.Connection, sql: str, args: list[Any], indexed: bool) -> Record:
    async with conn.transaction():
        # Under a LIMIT the planner walks the whole table (or a filter's index) when it guesses a word common:
        # a guess that is wrong for a rare word (a pattern's selectivity is a rough estimate, and a word and a
        # filter may never meet) reads every row. Through the trigram index's bitmap, its candidates are read
        # only until the limit is reached either way.
        await conn.execute(_THROUGH_THE_BITMAP if indexed else _PLAN_FOR_THESE_WORDS)
        return await conn.fetchrow(sql, *args)


def surely_common(query: ModelQuery, shares: TrigramShares | None) -> bool:
    """Whether the sample says that a search's words are in far more rows than its count reads, so that its
    page is surely found along the order's index whatever the count says: its page need not wait for its count.
    Only for a search without other filters, whose rows the sample does not say."""
    if shares is None or not query.search or _HASH.fullmatch(query.search.strip()):
        return False
    if query.folder or query.ext or query.kind or query.base_model or query.favourite:
        return False
    indexed = _indexed_words(query.search)
    if not indexed:
        return False
    bound = SEARCH_COUNT_LIMIT + 1 if len(indexed) == len(search_words(query.search)) else _SHORT_WORD_READS
    return shares.rows_holding(indexed) > 2 * bound


# What list_models is given for a page to be found along its order's index, whatever its count.
WALKED = Count(0, False)


def _is_rare(query: ModelQuery, matches: Count) -> bool:
    """A search the trigram (or hash) index answers with few rows, better sorted than found along an order."""
    return bool(query.search) and matches.exact and matches.total <= SEARCH_COUNT_LIMIT and _indexed(query)


async def list_models(conn: asyncpg.Connection, query: ModelQuery, matches: Count,
                      shares: TrigramShares | None = None) -> list[Record]:
    """One page, each row with its `sort_key`; matches is how many rows the filters let through."""
    key = SORT_KEYS[query.sort]
    direction = "DESC" if query.descending else "ASC"
    args: list[Any] = []
    # A rare word: its matches come from the trigram index, then are sorted; walking the order's index and
    # filtering would read most of the table to fill a page. A common one fills pages fast from that walk.
    # Every filter goes into that subquery, where the planner may combine its indexes (a type's, a base model's).
    where = _filters(query, args, shares)
    source = "models"
    rare = _is_rare(query, matches)
    if rare:
        source, where = f"(SELECT * FROM models{_where(where)} OFFSET 0)", []
    if query.after is not None:
        args.extend(query.after)
        where.append(f"({key}, path) {'<' if query.descending else '>'} (${len(args) - 1}, ${len(args)})")
    args.extend((query.limit, query.offset))
    sql = f"""SELECT {MODEL_COLUMNS}, kind, base_model, {_METADATA}, {key} AS sort_key FROM {source} AS models
              {_where(where)}
              ORDER BY {key} {direction}, path {direction} LIMIT ${len(args) - 1} OFFSET ${len(args)}"""
    if not query.search:
        return await conn.fetch(sql, *args)
    async with conn.transaction():
        # A rare search's rows as its count found them, whatever its filters.
        await conn.execute(_THROUGH_THE_BITMAP if rare else _PLAN_FOR_THESE_WORDS)
        return await conn.fetch(sql, *args)


async def sample_trigrams(conn: asyncpg.Connection, rows: int) -> TrigramShares:
    """Each trigram's share of about `rows` rows of the catalogue, taken a few pages at a time (SYSTEM): a
    sample of a large catalogue reads a small part of it."""
    estimate = await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'models'::regclass")
    percent = 100.0 if estimate is None or estimate <= rows else 100.0 * rows / estimate
    found = await conn.fetch(
        """WITH sample AS (SELECT search_text FROM models TABLESAMPLE SYSTEM ($1) LIMIT $2)
           SELECT trigram, count(*) AS rows, (SELECT count(*) FROM sample) AS sampled
           FROM sample, unnest(show_trgm(search_text)) AS trigram GROUP BY trigram""", percent, rows * 2)
    return TrigramShares.of(((row["trigram"], row["rows"]) for row in found), found[0]["sampled"] if found else 0,
                            max(estimate or 0.0, 0.0))


async def duplicate_groups(conn: asyncpg.Connection, limit: int, offset: int) -> tuple[list[Record], int, int]:
    """Groups of files with one SHA-256, most bytes to free first; returns (groups, total groups, bytes to free).

    Hard links (one device and inode) are one file; symlinks are already one record under their target.
    Each group row has sha256, size, count (distinct files) and wasted_bytes.
    """
    groups_sql = """
        SELECT sha256, max(size) AS size, count(DISTINCT (device, inode)) AS count,
               max(size) * (count(DISTINCT (device, inode)) - 1) AS wasted_bytes
        FROM models WHERE changed_at IS NULL GROUP BY sha256 HAVING count(DISTINCT (device, inode)) > 1"""
    totals = await conn.fetchrow(
        f"SELECT count(*) AS groups, coalesce(sum(wasted_bytes), 0) AS wasted FROM ({groups_sql}) g")
    groups = await conn.fetch(
        f"SELECT * FROM ({groups_sql}) g ORDER BY wasted_bytes DESC, sha256 LIMIT $1 OFFSET $2", limit, offset)
    return groups, totals["groups"], int(totals["wasted"])


async def files_with_hashes(conn: asyncpg.Connection, hashes: list[str]) -> list[Record]:
    return await conn.fetch(
        f"SELECT {MODEL_COLUMNS}, {_METADATA} FROM models WHERE sha256 = ANY($1::text[]) AND changed_at IS NULL\n"
        "ORDER BY sha256, path", hashes)


async def facets(conn: asyncpg.Connection) -> dict[str, list[Record]]:
    """How many models each folder holds directly, and each model type and base model (NULL: unknown)."""
    return {
        "folders": await conn.fetch("SELECT folder AS value, count(*) AS count FROM models GROUP BY folder"),
        "model_types": await conn.fetch(
            "SELECT kind AS value, count(*) AS count FROM models GROUP BY kind ORDER BY count DESC, kind"),
        "base_models": await conn.fetch(
            "SELECT base_model AS value, count(*) AS count FROM models GROUP BY base_model"
            " ORDER BY count DESC, base_model"),
    }
