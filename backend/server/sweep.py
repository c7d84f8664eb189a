"""Start-up sweep: delete pending previews that no pending row names, left by a crash after a promotion's commit."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import asyncpg

from backend.database import db
from backend.server.clients import ImagesClient
from backend.util.image_store import PENDING_DIR

log = logging.getLogger(__name__)

# A registration writes its preview before its row commits; younger files may belong to one in flight.
ORPHAN_MIN_AGE_S = 600.0


async def sweep_orphan_previews(
    pool: asyncpg.Pool, images: ImagesClient, images_dir: Path, min_age_s: float = ORPHAN_MIN_AGE_S
) -> list[str]:
    """Delete unreferenced pending previews older than min_age_s; return their keys."""
    folder = images_dir / PENDING_DIR
    cutoff = time.time() - min_age_s
    try:
        candidates = {
            f"{PENDING_DIR}/{entry.name}"
            for entry in folder.iterdir()
            if entry.suffix == ".webp" and not entry.name.startswith(".") and entry.stat().st_mtime < cutoff
        }
    except FileNotFoundError:
        return []
    if not candidates:
        return []
    async with pool.acquire() as conn:
        orphans = sorted(candidates - await db.pending_image_keys(conn))
    for key in orphans:
        await images.delete(key)
        log.info("deleted orphan preview %s", key)
    return orphans
