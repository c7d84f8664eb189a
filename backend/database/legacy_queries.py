"""Queries of legacy migration: metadata per hash, and which records got their hash from another tool."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import db, identity_sql
from backend.database.metadata_sources import rank


async def existing_metadata(conn: asyncpg.Connection, hashes: Sequence[str]) -> dict[tuple[str, str], Record]:
    rows = await conn.fetch(
        "SELECT sha256, field, value, source FROM model_metadata WHERE sha256 = ANY($1::text[])", list(hashes))
    return {(r["sha256"], r["field"]): r for r in rows}


def metadata_changes(rows: Iterable[tuple[str, str, Any, str]], existing: dict[tuple[str, str], Record]
                     ) -> list[tuple[str, str, str, str]]:
    """The (sha256, field, value as JSON, source) rows to write: new fields, or a better or newer source's."""
    changes = []
    for sha256, field, value, source in rows:
        known = existing.get((sha256, field))
        encoded = json.dumps(value)
        if known is not None:
            same = json.loads(known["value"]) == value and known["source"] == source
            outranked = rank(known["source"]) < rank(source)
            if same or outranked:
                continue
        changes.append((sha256, field, encoded, source))
    return changes


async def write_metadata(conn: asyncpg.Connection, changes: Sequence[tuple[str, str, str, str]]) -> None:
    """Write (sha256, field, value as JSON, source) rows: COPY into a staging table, then one upsert.

    Inside the caller's transaction (the staging table lives until its commit).
    """
    if not changes:
        return
    await conn.execute("""CREATE TEMP TABLE metadata_in (sha256 text, field text, value text, source text)
                          ON COMMIT DROP""")
    await conn.copy_records_to_table("metadata_in", records=changes)
    await conn.execute(
        """INSERT INTO model_metadata (sha256, field, value, source)
           SELECT sha256, field, value::jsonb, source FROM metadata_in
           ON CONFLICT (sha256, field) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source,
               updated_at = now()""")


async def metadata_for(conn: asyncpg.Connection, hashes: Sequence[str]) -> dict[str, dict[str, tuple[Any, str]]]:
    """{sha256: {field: (value, source)}} for the given hashes, in one query."""
    found: dict[str, dict[str, tuple[Any, str]]] = {}
    for row in (await existing_metadata(conn, hashes)).values():
        found.setdefault(row["sha256"], {})[row["field"]] = (json.loads(row["value"]), row["source"])
    return found


async def mark_legacy(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, list[str]]]) -> None:
    """Remember (path, sha256, sources) as imported, unverified."""
    await conn.executemany(
        """INSERT INTO legacy_hashes (path, sha256, sources) VALUES ($1, $2, $3)
           ON CONFLICT (path) DO UPDATE SET sha256 = EXCLUDED.sha256, sources = EXCLUDED.sources,
               imported_at = now(), verified_at = NULL, real_sha256 = NULL""",
        rows,
    )


async def unverified(conn: asyncpg.Connection, folder: str | None) -> list[Record]:
    """Imported records not read yet whose active row still carries the imported hash."""
    return await conn.fetch(
        """SELECT l.path, l.sha256, l.sources, m.image_key FROM legacy_hashes l
           JOIN models m ON m.path = l.path AND m.sha256 = l.sha256
           WHERE l.verified_at IS NULL AND ($1::text IS NULL OR starts_with(l.path, $1 || '/'))
           ORDER BY l.path""",
        folder,
    )


async def mark_verified(conn: asyncpg.Connection, path: str, real_sha256: str) -> None:
    await conn.execute(
        "UPDATE legacy_hashes SET verified_at = now(), real_sha256 = $2 WHERE path = $1", path, real_sha256)


async def fix_hash(conn: asyncpg.Connection, path: str, wrong: str, real: str, image_key: str | None) -> bool:
    """Replace a wrong legacy hash on the active row of path; False if the row changed meanwhile."""
    status = await conn.execute(
        "UPDATE models SET sha256 = $3, image_key = $4, updated_at = now() WHERE path = $1 AND sha256 = $2",
        path, wrong, real, image_key)
    return status == "UPDATE 1"


async def image_in_use(conn: asyncpg.Connection, image_key: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM models WHERE image_key = $1)", image_key)


async def catalogue_rows(conn: asyncpg.Connection, paths: Sequence[str]) -> tuple[dict[str, Record], dict[str, Record]]:
    """The active and the pending rows of these paths, by path."""
    models = await conn.fetch(
        f"SELECT path, sha256, {identity_sql.COLUMNS} FROM models WHERE path = ANY($1::text[])", list(paths))
    pending = await conn.fetch(
        "SELECT path, image_key FROM pending_models WHERE path = ANY($1::text[])", list(paths))
    return {r["path"]: r for r in models}, {r["path"]: r for r in pending}


async def insert_models(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, int, int, int]]) -> None:
    """Active rows (path, sha256, *FileIdentity.values()) without a preview, one round trip for all.

    A path registered as pending meanwhile is left pending: under the paths' locks, never both.
    """
    async with conn.transaction():
        await db.lock_paths(conn, [row[0] for row in rows])
        await conn.executemany(
            f"""INSERT INTO models (path, sha256, {identity_sql.COLUMNS})
               SELECT $1::text, $2::text, {identity_sql.params(3)}
               WHERE NOT EXISTS (SELECT 1 FROM pending_models WHERE path = $1::text)
               ON CONFLICT (path) DO NOTHING""",
            rows,
        )
