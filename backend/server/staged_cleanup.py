"""Previews a registration staged in a gateway that is no longer alive: removed at start, whatever their age.

A staged preview lives for one registration (compressed, then linked to its row's key, then deleted), so
one that outlives its gateway is left by a crash. Its name carries its gateway's start id; the gateways
alive are those with a presence session open (see backend/server/presence.py). A file of a gateway that is
alive, here or beside us, is in use and stays.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from backend.database import gateway_queries
from backend.database.migration.promotion import PreviewStore
from backend.util.image_keys import PENDING_DIR, staged_owner

log = logging.getLogger(__name__)


async def sweep_dead_staged_previews(pool: asyncpg.Pool, previews: PreviewStore, images_dir: Path) -> list[str]:
    """Delete every staged preview whose gateway is not alive; returns their keys."""
    try:
        owners = {entry.name: owner for entry in (images_dir / PENDING_DIR).iterdir()
                  if (owner := staged_owner(entry.name)) is not None}
    except FileNotFoundError:
        return []
    if not owners:
        return []
    # The files first, then who is alive: a file listed was staged by a gateway already present then, so it
    # is alive now or dead, never "not yet present".
    async with pool.acquire() as conn:
        alive = await gateway_queries.live_start_ids(conn)
    dead = sorted(f"{PENDING_DIR}/{name}" for name, owner in owners.items() if owner not in alive)
    for key in dead:
        await previews.delete(key)
        log.info("deleted %s, staged by a gateway that is gone", key)
    return dead
