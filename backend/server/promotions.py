"""Reactive migration for a batch of hashed files: previews linked first, one transaction, then previews let go."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from asyncpg import Record

from backend.database import queue_db
from backend.database.migration.reactive import active_image_key
from backend.server.clients import ImagesClient
from backend.util.file_identity import HashedFile


class Promotions:
    """The same order as reactive.promote (link, swap rows, delete), with one transaction for many files."""

    def __init__(self, pool: asyncpg.Pool, images: ImagesClient, images_dir: Path) -> None:
        self._pool = pool
        self._images = images
        self._images_dir = images_dir

    async def promote(self, batch: list[tuple[Record, HashedFile]]) -> list[str]:
        """Promote each file's pending row; returns the paths promoted (a row gone and active already is not)."""
        # 1. Before any row changes: if the image service is down, every pending row is untouched.
        keys = await asyncio.gather(*(self._link(row["image_key"], file.sha256) for row, file in batch))
        # 2. One transaction for the whole batch: one round trip per statement, not per file.
        async with self._pool.acquire() as conn:
            promoted = set(await queue_db.promote_batch(conn, [file for _, file in batch], keys))
        # 3. Only now are the pending previews unreferenced; a lost delete is finished by the start-up sweep.
        linked = [row["image_key"] for (row, file), key in zip(batch, keys, strict=True)
                  if key is not None and file.path in promoted]
        await asyncio.gather(*(self._images.delete(key) for key in linked))
        return [file.path for _, file in batch if file.path in promoted]

    async def _link(self, pending_key: str, sha256: str) -> str | None:
        """The active key once linked (or already there for this content); None when neither exists."""
        target = active_image_key(sha256)
        # The gateway shares the image folder with the image service: most files have no preview, and
        # knowing that costs no round trip.
        if not (self._images_dir / pending_key).is_file():
            return target if (self._images_dir / target).is_file() else None
        return target if await self._images.link(pending_key, target) else None
