"""Reading the catalogue page by page: filters, orders and keyset paging over active models, and duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database.db import MODEL_COLUMNS

# Each row's imported metadata as one JSON object text, {field: value}: a page is one query, and its JSON
# goes into the answer as it is, never parsed and written again in Python. The long fields stay out of pages:
# the header's own key-value pairs and training facts, and the hub's description (up to 20,000 characters);
# a card never shows them, GET /api/models/{sha256} does (a page of 100 models would carry megabytes of them).
_METADATA = """coalesce((SELECT jsonb_object_agg(m.field, m.value) FROM model_metadata AS m
                          WHERE m.sha256 = models.sha256
                            AND m.field NOT IN ('embedded_metadata', 'training', 'description')), '{}')::text
               AS metadata"""
# Each order is an index of 0006_library_scale.sql; the path breaks ties, so a key names one row.
SORT_KEYS = {"path": "path", "name": "lower(name)", "size": "size", "date": "mtime_ns"}
# Searches with at most this many matches sort their matches instead of walking an order's index.
_RARE_MATCHES = 5000


@dataclass(frozen=True)
class ModelQuery:
    limit: int
    offset: int = 0
    sort: str = "path"
    descending: bool = False
    # Keyset paging: the sort key and path of the last row of the previous page.
    after: tuple[Any, str] | None = None
    q: str | None = None
    folder: str | None = None
    ext: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(query: ModelQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if query.q:
        args.append(_like_pattern(query.q))
        where.append(f"path ILIKE ${len(args)}")
    if query.folder:
        args.append(query.folder.rstrip("/") + "/")
        where.append(f"starts_with(path, ${len(args)})")
    if query.ext:
        args.append(query.ext)
        where.append(f"ext = ${len(args)}")
    return where, args


async def count_models(conn: asyncpg.Connection, query: ModelQuery) -> int:
    """How many rows match the filters: a scan of an index, so a first page pays it, not every page."""
    where, args = _filters(query)
    return await conn.fetchval("SELECT count(*) FROM models" + (" WHERE " + " AND ".join(where) if where else ""),
                               *args)


async def list_models(conn: asyncpg.Connection, query: ModelQuery, matches: int) -> list[Record]:
    """One page, each row with its `sort_key`; matches is how many rows the filters let through."""
    where, args = _filters(query)
    key = SORT_KEYS[query.sort]
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        args.extend(query.after)
        where.append(f"({key}, path) {'<' if query.descending else '>'} (${len(args) - 1}, ${len(args)})")
    args.extend((query.limit, query.offset))
    # A rare word: its matches come from the trigram index, then are sorted; walking the order's index and
    # filtering would read most of the table to fill a page. A common one fills pages fast from that walk.
    rare = query.q is not None and len(query.q) >= 3 and matches <= _RARE_MATCHES
    source = "(SELECT * FROM models WHERE path ILIKE $1 OFFSET 0)" if rare else "models"
    return await conn.fetch(
        f"""SELECT {MODEL_COLUMNS}, {_METADATA}, {key} AS sort_key FROM {source} AS models
            {"WHERE " + " AND ".join(where) if where else ""}
            ORDER BY {key} {direction}, path {direction} LIMIT ${len(args) - 1} OFFSET ${len(args)}""",
        *args,
    )


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
