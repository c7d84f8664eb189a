"""Reactive migration's crash-safe protocol: a pending model whose hash is known becomes active, its preview kept.

The order, the same for one file (`promote`) and for a batch (`Promotions.promote`):

1. link the pending preview `pending/<name>.webp` to its hash name `<sha256>.webp` (an existing one is kept);
2. in one transaction, under the path's lock: insert or update the active row, delete the pending row;
3. after the commit, delete the pending preview.

A crash between two steps is completed later: after 1, by the next request (the link is idempotent);
after 2, by `sweep_orphan_previews` at the gateway's start (the pending preview is then an orphan).

Invariants, checked by tests/integration/test_promotion.py:

- every image an active row names exists, after any step and after a crash at any crash point;
- no path is both pending and active, except a changed file queued again, whose record is marked changed;
- a preview is never lost: it is deleted from pending/ only once an active row and its `<sha256>.webp` exist;
- an image service that fails before the commit leaves every pending row as it was;
- two promotions of one file, at once or one after the other, leave one active row; a batch does not count
  a file that another promotion finished.
- after the sweep, no pending preview older than `ORPHAN_MIN_AGE_S` that no pending row names is left, and a
  younger one (a registration in flight writes its preview before its row commits) or a named one is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Protocol

import asyncpg
from asyncpg import Record

from backend.database import db, queue_queries
from backend.database.conflicts import retried
from backend.util.crash_points import crash_point
from backend.util.file_identity import HashedFile
from backend.util.image_keys import PENDING_DIR, SUFFIX, active_image_key

log = logging.getLogger(__name__)

# A registration writes its preview before its row commits; younger files may belong to one in flight.
ORPHAN_MIN_AGE_S = 600.0


class PreviewStore(Protocol):
    """The image operations the protocol needs; the gateway gives one backed by the image service."""

    async def link(self, source_key: str, target_key: str) -> bool:
        """Make target a link or copy of source, keeping an existing target; True when target exists after."""

    async def delete(self, key: str) -> None:
        """Remove a key; a missing key is not an error."""


async def promote(pool: asyncpg.Pool, previews: PreviewStore, pending_image_key: str, file: HashedFile,
                  previous_image_key: str | None = None) -> Record:
    """Promote the pending row of file.path to an active row; safe to run twice or concurrently.

    previous_image_key: the preview of the path's record when a changed file is hashed again, kept (under
    the new content's name) when there is no pending preview.
    """
    # 1. Before any row changes: if this fails (image service down), the pending row is untouched.
    has_image = await previews.link(pending_image_key, active_image_key(file.sha256))
    if not has_image and previous_image_key and previous_image_key != active_image_key(file.sha256):
        has_image = await previews.link(previous_image_key, active_image_key(file.sha256))
    crash_point("promote_after_link")
    # 2. The path lock makes concurrent promotions and registrations of one file queue here; the first
    # does the work, and a registration after it finds the file active.
    async with pool.acquire() as conn, conn.transaction():
        await db.lock_paths(conn, [file.path])
        pending = await db.get_pending(conn, file.path, for_update=True)
        if pending is None:
            active = await db.get_model_by_path(conn, file.path)
            if active is not None:
                return active
        active = await db.upsert_model(conn, file, image_key=active_image_key(file.sha256) if has_image else None)
        if pending is not None:
            await db.delete_pending(conn, file.path)
        if has_image:
            await db.share_image(conn, file.sha256, active_image_key(file.sha256))
    crash_point("promote_after_commit")
    # 3. Only now is the pending preview unreferenced. If this delete is lost, the start-up sweep finishes it.
    await previews.delete(pending_image_key)
    crash_point("promote_after_delete")
    return active


class Promotions:
    """The same order as `promote` (link, swap rows, delete), with one transaction for many files."""

    def __init__(self, pool: asyncpg.Pool, previews: PreviewStore, images_dir: Path) -> None:
        self._pool = pool
        self._previews = previews
        self._images_dir = images_dir

    async def promote(self, batch: list[tuple[Record, HashedFile]]) -> list[str]:
        """Promote each file's pending row; returns the paths promoted (a row gone and active already is not)."""
        # 1. Before any row changes: if the image service is down, every pending row is untouched.
        keys = await asyncio.gather(*(self._link(row["image_key"], file.sha256, row.get("previous_image_key"))
                                      for row, file in batch))
        # 2. One transaction for the whole batch: one round trip per statement, not per file.
        promoted = set(await self._swap_rows([file for _, file in batch], keys))
        # 3. Only now are the pending previews unreferenced; a lost delete is finished by the start-up sweep.
        linked = [row["image_key"] for (row, file), key in zip(batch, keys, strict=True)
                  if key is not None and file.path in promoted]
        await asyncio.gather(*(self._previews.delete(key) for key in linked))
        return [file.path for _, file in batch if file.path in promoted]

    async def _swap_rows(self, files: list[HashedFile], keys: list[str | None]) -> list[str]:
        """Step 2, tried again when PostgreSQL ends the transaction to resolve a conflict with another one.

        The batch rolled back whole, so trying it again is safe; after the last try the failure is the job's.
        """
        async def attempt() -> list[str]:
            async with self._pool.acquire() as conn:
                return await queue_queries.promote_batch(conn, files, keys)

        return await retried(attempt, f"promoting {len(files)} files")

    async def _link(self, pending_key: str, sha256: str, previous_key: str | None = None) -> str | None:
        """The active key once linked (or already there for this content); None when none exists.

        A changed file hashed again has no pending preview: it keeps its record's, named for the new content.
        """
        target = active_image_key(sha256)
        # The gateway shares the image folder with the image service: most files have no preview, and
        # knowing that costs no round trip.
        for source in (pending_key, previous_key):
            if source and source != target and (self._images_dir / source).is_file():
                return target if await self._previews.link(source, target) else None
        return target if (self._images_dir / target).is_file() else None


async def sweep_orphan_previews(
    pool: asyncpg.Pool, previews: PreviewStore, images_dir: Path, min_age_s: float = ORPHAN_MIN_AGE_S
) -> list[str]:
    """Step 3 of promotions a crash cut short: delete unreferenced pending previews older than min_age_s."""
    folder = images_dir / PENDING_DIR
    cutoff = time.time() - min_age_s
    try:
        candidates = {
            f"{PENDING_DIR}/{entry.name}"
            for entry in folder.iterdir()
            if entry.suffix == SUFFIX and not entry.name.startswith(".") and entry.stat().st_mtime < cutoff
        }
    except FileNotFoundError:
        return []
    if not candidates:
        return []
    async with pool.acquire() as conn:
        orphans = sorted(candidates - await db.pending_image_keys(conn))
    for key in orphans:
        await previews.delete(key)
        log.info("deleted orphan preview %s", key)
    return orphans
