"""Queries of the header job: which contents have no header facts yet, and dropping facts a header no longer says."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from asyncpg import Record

from backend.database import identity_sql
from backend.database.metadata_sources import HEADER_SOURCES

# Written for every header read (its value the format): a content with it has been read, whatever it said.
READ_MARK = "format"


async def contents_to_read(conn: asyncpg.Connection, folder: str, after: str, limit: int, refresh: bool
                           ) -> list[Record]:
    """One current file per SHA-256 above `after` (keyset order), under folder ('' for all), whose header was
    not read yet (or every one, with refresh). A changed file's hash is not its content's: it waits for its hash."""
    return await conn.fetch(
        f"""SELECT DISTINCT ON (m.sha256) m.sha256, m.path, {identity_sql.COLUMNS} FROM models AS m
            WHERE m.sha256 > $1 AND m.changed_at IS NULL AND ($2 = '' OR starts_with(m.path, $2 || '/'))
              AND ($3 OR NOT EXISTS (SELECT 1 FROM model_metadata AS h WHERE h.sha256 = m.sha256
                                     AND h.field = $4 AND h.source = ANY($5::text[])))
            ORDER BY m.sha256, m.path LIMIT $6""",
        after, folder, refresh, READ_MARK, list(HEADER_SOURCES), limit)


async def count_to_read(conn: asyncpg.Connection, folder: str, refresh: bool) -> int:
    return await conn.fetchval(
        """SELECT count(DISTINCT m.sha256) FROM models AS m
           WHERE m.changed_at IS NULL AND ($1 = '' OR starts_with(m.path, $1 || '/'))
             AND ($2 OR NOT EXISTS (SELECT 1 FROM model_metadata AS h WHERE h.sha256 = m.sha256
                                    AND h.field = $3 AND h.source = ANY($4::text[])))""",
        folder, refresh, READ_MARK, list(HEADER_SOURCES))


async def drop_unsaid(conn: asyncpg.Connection, said: Sequence[tuple[str, str]]) -> None:
    """Delete header facts of these contents that their header, read again, no longer gives (sha256, field)."""
    if not said:
        return
    hashes = sorted({sha256 for sha256, _ in said})
    await conn.execute(
        """DELETE FROM model_metadata AS m WHERE m.sha256 = ANY($1::text[]) AND m.source = ANY($2::text[])
             AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS k(sha256, field)
                             WHERE k.sha256 = m.sha256 AND k.field = m.field)""",
        hashes, list(HEADER_SOURCES), [sha256 for sha256, _ in said], [field for _, field in said])


async def without_preview(conn: asyncpg.Connection, hashes: Sequence[str]) -> set[str]:
    """The contents among these none of whose files has a preview."""
    rows = await conn.fetch(
        """SELECT sha256 FROM models WHERE sha256 = ANY($1::text[])
           GROUP BY sha256 HAVING bool_and(image_key IS NULL)""", list(hashes))
    return {row["sha256"] for row in rows}
