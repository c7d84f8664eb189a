"""Finding models by any hash people look them up by (SHA-256, AutoV1, AutoV2, AutoV3), and showing them all."""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import db, short_hash_queries
from backend.server.http.shapes import model_json
from backend.server.library.hash_text import WantedHash

# Civitai's AutoV2 (A1111's `shorthash`): the SHA-256's first 10 hex digits; derived, never stored.
AUTOV2_DIGITS = 10


def hashes_json(sha256: str, short: Record | None) -> dict[str, Any]:
    """A content's hashes. `short_hashes_computed` false: hashed before ModelVault computed AutoV1 and AutoV3
    (or its hash came from another tool), so they are unknown, not absent; hashing it again with force computes
    them. True with a null: the file has none (AutoV1: 1 MiB or less; AutoV3: not safetensors, or left out by
    MODELVAULT_AUTOV3)."""
    return {
        "sha256": sha256,
        "autov1": short["autov1"] if short is not None else None,
        "autov2": sha256[:AUTOV2_DIGITS],
        "autov3": short["autov3"] if short is not None else None,
        "short_hashes_computed": short is not None,
    }


async def content_hashes(pool: asyncpg.Pool, sha256: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return hashes_json(sha256, await short_hash_queries.for_sha256(conn, sha256))


async def look_up(pool: asyncpg.Pool, wanted: list[WantedHash]) -> list[dict[str, Any]]:
    """For each wanted hash, every content it matches (short hashes collide) with its files and hashes."""
    async with pool.acquire() as conn:
        found = [await _matches(conn, item) for item in wanted]
        contents = sorted({sha256 for matches in found for sha256 in matches})
        short = await short_hash_queries.short_hashes_of(conn, contents)
        files = {sha256: await db.models_with_hash(conn, sha256) for sha256 in contents}
    return [
        {"name": item.name, "hash": item.hash, "kinds": list(item.kinds),
         "matches": [{"sha256": sha256, "matched_by": kinds, "hashes": hashes_json(sha256, short.get(sha256)),
                      "files": [model_json(row) for row in files[sha256]]}
                     for sha256, kinds in matches.items()]}
        for item, matches in zip(wanted, found, strict=True)
    ]


async def _matches(conn: asyncpg.Connection, item: WantedHash) -> dict[str, list[str]]:
    """{sha256: [the kinds of hash it matched by]}, in SHA-256 order."""
    matched: dict[str, list[str]] = {}
    for kind in item.kinds:
        if kind in ("autov1", "autov3"):
            sha256s = await short_hash_queries.contents_by_short_hash(conn, kind, item.hash)
        else:  # sha256, autov2, sha256_prefix: the SHA-256 itself or its first digits
            sha256s = await short_hash_queries.contents_by_prefix(conn, item.hash)
        for sha256 in sha256s:
            matched.setdefault(sha256, []).append(kind)
    return dict(sorted(matched.items()))
