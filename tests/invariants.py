"""The catalogue's invariants, as checks any test can run against the database it used."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg


async def paths_both_pending_and_active(conn: asyncpg.Connection) -> list[str]:
    """Paths that have an active row and a pending row at once: a file is one or the other, except a changed
    file queued to be hashed again, whose record says so (changed_at) until the new hash replaces it."""
    rows = await conn.fetch(
        "SELECT path FROM models JOIN pending_models USING (path) WHERE changed_at IS NULL ORDER BY path")
    return [row["path"] for row in rows]


async def assert_no_path_both_pending_and_active(conn: asyncpg.Connection) -> None:
    both = await paths_both_pending_and_active(conn)
    assert both == [], f"{len(both)} path(s) both pending and active, e.g. {both[:3]}"


async def active_images_missing(conn: asyncpg.Connection, images_dir: Path) -> list[str]:
    """Image keys that an active row names and that have no file: a record must never point at nothing."""
    keys = await conn.fetch("SELECT DISTINCT image_key FROM models WHERE image_key IS NOT NULL ORDER BY 1")
    return [row["image_key"] for row in keys if not (images_dir / row["image_key"]).is_file()]


async def old_orphan_previews(conn: asyncpg.Connection, images_dir: Path, older_than_s: float) -> list[str]:
    """Pending previews older than older_than_s that no pending row names: what the start-up sweep must delete."""
    cutoff = time.time() - older_than_s
    named = {row["image_key"] for row in await conn.fetch("SELECT image_key FROM pending_models")}
    old = {f"pending/{p.name}" for p in (images_dir / "pending").glob("*.webp")
           if not p.name.startswith(".") and p.stat().st_mtime < cutoff}
    return sorted(old - named)


async def assert_promotion_invariants(conn: asyncpg.Connection, images_dir: Path) -> None:
    """What reactive migration guarantees after any step, a crash included: no record without its image."""
    await assert_no_path_both_pending_and_active(conn)
    missing = await active_images_missing(conn, images_dir)
    assert missing == [], f"active rows name missing images: {missing[:3]}"
