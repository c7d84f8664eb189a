"""The short hashes per SHA-256 (AutoV1, AutoV3), and finding contents by any hash people look models up by."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from asyncpg import Record

from backend.util.file_identity import HashedFile

# Contents answered for one short hash: far more than any real collision, and a bounded reply for a hash
# as short as 8 digits.
MAX_MATCHES = 100

# A byte-order range ('g' follows every hex digit), which models_sha256_prefix_idx answers.
BY_PREFIX = """SELECT DISTINCT sha256 FROM models WHERE sha256 ~>=~ $1 AND sha256 ~<~ ($1 || 'g')
               ORDER BY sha256 LIMIT $2"""
# Only contents still catalogued: a short hash outlives the last file of its content.
BY_SHORT_HASH = {column: f"""SELECT s.sha256 FROM model_short_hashes AS s
                             WHERE s.{column} = $1 AND EXISTS (SELECT 1 FROM models AS m WHERE m.sha256 = s.sha256)
                             ORDER BY s.sha256 LIMIT $2"""
                 for column in ("autov1", "autov3")}


async def store(conn: asyncpg.Connection, files: Sequence[HashedFile]) -> None:
    """Record what the hasher's read gave for each content; files without a read (recalled hashes) are skipped.

    A newer read replaces an older one: the hasher's setting (MODELVAULT_AUTOV3) may have changed since, and
    the bytes of one SHA-256 give the same short hashes, so nothing true is lost.
    """
    read = {f.sha256: f.short for f in files if f.short is not None}
    if not read:
        return
    await conn.execute(
        """INSERT INTO model_short_hashes (sha256, autov1, autov3)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
           ON CONFLICT (sha256) DO UPDATE SET autov1 = EXCLUDED.autov1,
               autov3 = COALESCE(EXCLUDED.autov3, model_short_hashes.autov3), hashed_at = now()""",
        list(read), [s.autov1 for s in read.values()], [s.autov3 for s in read.values()],
    )


async def for_sha256(conn: asyncpg.Connection, sha256: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT autov1, autov3, hashed_at FROM model_short_hashes WHERE sha256 = $1", sha256)


async def contents_by_prefix(conn: asyncpg.Connection, prefix: str) -> list[str]:
    """The catalogued SHA-256s starting with prefix (lowercase hex): AutoV2, or A1111's 12-digit hash."""
    rows = await conn.fetch(BY_PREFIX, prefix, MAX_MATCHES)
    return [r["sha256"] for r in rows]


async def contents_by_short_hash(conn: asyncpg.Connection, column: str, value: str) -> list[str]:
    """The catalogued SHA-256s whose AutoV1 or AutoV3 (column) is value."""
    rows = await conn.fetch(BY_SHORT_HASH[column], value, MAX_MATCHES)
    return [r["sha256"] for r in rows]


async def short_hashes_of(conn: asyncpg.Connection, sha256s: Sequence[str]) -> dict[str, Record]:
    rows = await conn.fetch(
        "SELECT sha256, autov1, autov3, hashed_at FROM model_short_hashes WHERE sha256 = ANY($1::text[])",
        list(sha256s))
    return {r["sha256"]: r for r in rows}
