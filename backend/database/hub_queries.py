"""Queries of the hub job: which contents to ask about, and what the hub said (its state and its fields)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import legacy_queries

# A content the hub did not know is asked again after this long (a model may be published since).
NOT_FOUND_AGAIN_AFTER = "7 days"
HUB_SOURCE = "civitai"


async def contents_to_ask(conn: asyncpg.Connection, folder: str, refresh: bool) -> list[Record]:
    """(sha256, path) of each active content under folder ('' for all), one path per content, in path order.

    Without refresh: the never asked, the failed, and the not found whose answer is older than a week.
    """
    return await conn.fetch(
        f"""SELECT DISTINCT ON (m.sha256) m.sha256, m.path FROM models m
            LEFT JOIN hub_lookups h ON h.sha256 = m.sha256
            WHERE ($1 = '' OR starts_with(m.path, $1 || '/'))
              AND ($2 OR h.sha256 IS NULL OR h.state = 'failed'
                   OR (h.state = 'not_found' AND h.checked_at < now() - interval '{NOT_FOUND_AGAIN_AFTER}'))
            ORDER BY m.sha256, m.path""",
        folder, refresh,
    )


async def content_to_ask(conn: asyncpg.Connection, sha256: str) -> list[Record]:
    """(sha256, path) of one content, whatever the hub said before; none when no active file has it."""
    return await conn.fetch("SELECT sha256, path FROM models WHERE sha256 = $1 ORDER BY path LIMIT 1", sha256)


async def record_states(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str | None, str | None]]) -> None:
    """(sha256, state, url, error) rows, each the content's latest answer."""
    await conn.executemany(
        """INSERT INTO hub_lookups (sha256, state, url, error) VALUES ($1, $2, $3, $4)
           ON CONFLICT (sha256) DO UPDATE SET state = EXCLUDED.state, url = EXCLUDED.url, error = EXCLUDED.error,
               checked_at = now()""",
        rows,
    )


async def record_failed(conn: asyncpg.Connection, hashes: Sequence[str], error: str) -> None:
    """A failed look-up never hides an earlier answer: a found or not-found content keeps its state."""
    await conn.executemany(
        """INSERT INTO hub_lookups (sha256, state, error) VALUES ($1, 'failed', $2)
           ON CONFLICT (sha256) DO UPDATE SET error = EXCLUDED.error, checked_at = now()
               WHERE hub_lookups.state = 'failed'""",
        [(sha256, error) for sha256 in hashes],
    )


async def write_fields(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, Any]]) -> None:
    """(sha256, field, value) from the hub, written where no better source holds the field (metadata_sources)."""
    hashes = sorted({sha256 for sha256, _, _ in rows})
    existing = await legacy_queries.existing_metadata(conn, hashes)
    changes = legacy_queries.metadata_changes(
        [(sha256, field, value, HUB_SOURCE) for sha256, field, value in rows], existing)
    await legacy_queries.write_metadata(conn, changes)


async def lookup_of(conn: asyncpg.Connection, sha256: str) -> Record | None:
    return await conn.fetchrow("SELECT state, checked_at, url FROM hub_lookups WHERE sha256 = $1", sha256)


async def has_preview(conn: asyncpg.Connection, sha256: str) -> bool:
    """Whether some file of this content shows a preview (a local one, or one taken before)."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM models WHERE sha256 = $1 AND image_key IS NOT NULL)",
                               sha256)


async def hub_images_of(conn: asyncpg.Connection, sha256: str) -> list[Any]:
    """The hub's still images kept for a content ([{"url", "nsfw_level"}], the hub's order); [] when none."""
    value = await conn.fetchval("SELECT value FROM model_metadata WHERE sha256 = $1 AND field = 'hub_images'", sha256)
    found = json.loads(value) if value is not None else []
    return found if isinstance(found, list) else []
