"""Register a model file as pending (not hashed yet), with its preview compressed under a key of its own."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

import asyncpg
from asyncpg import Record

from backend.database import db
from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.http.errors import ApiError
from backend.util.crash_points import crash_point
from backend.util.image_keys import pending_image_key, staged_image_key


class PendingRegistration:
    def __init__(self, pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient, *, compressions: int,
                 start_id: str) -> None:
        self._pool = pool
        # Staged previews carry it: a start after a crash removes those of a gateway that is not alive.
        self._start_id = start_id
        self._hasher = hasher
        self._images = images
        # Compressions beyond what the image workers run at once would only queue there, each holding a request.
        self._compressions = asyncio.Semaphore(compressions)

    async def register(self, path: str, preview_path: str | None) -> tuple[Record, bool]:
        """Record a file as pending, with its preview if given; returns the row and whether it is new.

        The preview is compressed first, under a key of this request's own, with no connection held: a slow
        image cannot starve the pool. Only a preview that compressed is published under the row's key, so a
        bad preview changes nothing, and a failed or abandoned request leaves no file behind.
        """
        identity = await self._hasher.stat(path)
        resolved, size = identity.resolved_path, identity.size
        if preview_path is None:
            return await self._claim(resolved, size)
        staged = staged_image_key(self._start_id)
        try:
            async with self._compressions:
                await self._images.compress_file(preview_path, staged)
            crash_point("register_after_staging")
            row, created = await self._claim(resolved, size)
            # A new preview replaces the old one: link keeps an existing target, so that goes first.
            await self._images.delete(row["image_key"])
            await self._images.link(staged, row["image_key"])
            return row, created
        finally:
            # Shielded: a request cancelled here still lets go of its staged file.
            await asyncio.shield(self._images.delete(staged))

    async def _claim(self, resolved: str, size: int) -> tuple[Record, bool]:
        async with self._pool.acquire() as conn, conn.transaction():
            # Under the path's lock: a hash that makes the file active runs wholly before or after this.
            await db.lock_paths(conn, [resolved])
            if await db.get_model_by_path(conn, resolved) is not None:
                raise ApiError(409, "already_active", f"{resolved!r} is already an active model")
            existing = await db.get_pending(conn, resolved, for_update=True)
            row = existing or await self._insert(conn, resolved, PurePosixPath(resolved).stem, size)
        return row, existing is None

    async def _insert(self, conn: asyncpg.Connection, path: str, name: str, size: int) -> Record:
        for suffixed in (False, True):
            key = pending_image_key(name, path, suffixed=suffixed)
            row = await db.insert_pending(conn, path=path, name=name, image_key=key, size=size)
            if row is not None:
                return row
            if (row := await db.get_pending(conn, path)) is not None:
                return row  # registered by a concurrent request a moment ago
        raise ApiError(409, "conflict", f"no free preview name for {path!r}")
