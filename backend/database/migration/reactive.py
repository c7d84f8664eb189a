"""Reactive migration: a pending model whose hash is now known becomes active, its preview renamed to the hash.

The order is what makes it crash-safe (see DESIGN.md): link the preview to its hash name first,
then swap the rows in one transaction, and only after the commit delete the pending preview.
A crash between any two steps leaves a state the next request completes, with no record
pointing at a missing image and no image lost.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
from asyncpg import Record

from backend.database import db
from backend.util.crash_points import crash_point
from backend.util.file_identity import HashedFile


class PreviewStore(Protocol):
    """The image operations migration needs; the gateway gives one backed by the image service."""

    async def link(self, source_key: str, target_key: str) -> bool:
        """Make target a link or copy of source, keeping an existing target; True when target exists after."""

    async def delete(self, key: str) -> None:
        """Remove a key; a missing key is not an error."""


def active_image_key(sha256: str) -> str:
    return f"{sha256}.webp"


async def promote(pool: asyncpg.Pool, previews: PreviewStore, pending_image_key: str, file: HashedFile) -> Record:
    """Promote the pending row of file.path to an active row; safe to run twice or concurrently."""
    # 1. Before any row changes: if this fails (image service down), the pending row is untouched.
    has_image = await previews.link(pending_image_key, active_image_key(file.sha256))
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
