"""A person's own fields of a content (notes, tags, favourite): rows of model_metadata with the source "you"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from backend.database.metadata_sources import YOU


async def write_yours(conn: asyncpg.Connection, sha256: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Set (or, for None, clear) each field as the person's own; None when no file has this content.

    The person's word replaces whatever source held the field: it ranks above every other (metadata_sources).
    """
    async with conn.transaction():
        # Locks the content's rows so that a file promoted or removed meanwhile cannot leave notes of nothing.
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM models WHERE sha256 = $1 FOR KEY SHARE)", sha256):
            return None
        cleared = [field for field, value in values.items() if value is None]
        kept = [(sha256, field, json.dumps(value), YOU) for field, value in values.items() if value is not None]
        if cleared:
            await conn.execute(
                "DELETE FROM model_metadata WHERE sha256 = $1 AND field = ANY($2::text[]) AND source = $3",
                sha256, cleared, YOU)
        if kept:
            await conn.executemany(
                """INSERT INTO model_metadata (sha256, field, value, source) VALUES ($1, $2, $3::jsonb, $4)
                   ON CONFLICT (sha256, field) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source,
                       updated_at = now()""", kept)
        return await yours(conn, sha256)


async def yours(conn: asyncpg.Connection, sha256: str) -> dict[str, Any]:
    rows = await conn.fetch("SELECT field, value FROM model_metadata WHERE sha256 = $1 AND source = $2", sha256, YOU)
    return {row["field"]: json.loads(row["value"]) for row in rows}
