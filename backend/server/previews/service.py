"""A content's preview follows its side-car pictures, and a person's own picture wins until they remove it.

A preview is named by the content's hash and every file of that content shows it. A new picture is compressed
under a staged key first, so a picture that is refused (not an image, too big, a bomb) changes nothing; only
then does it replace the one shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from backend.database import preview_queries
from backend.server.adapters.clients import ImagesClient
from backend.server.adapters.failures import FileFailed, FileMissing
from backend.server.http.errors import ApiError
from backend.util.image_keys import active_image_key, staged_image_key

# Told of every content whose preview changed: the event stream of catalogue changes listens.
PreviewListener = Callable[[str, str | None], None]
# Asked for a picture already in the image store to show when no side-car picture is left (the hub's own
# preview): its image key, or None.
PreviewFallback = Callable[[str], Awaitable[str | None]]


class Previews:
    def __init__(self, pool: asyncpg.Pool, images: ImagesClient, start_id: str) -> None:
        self._pool = pool
        self._images = images
        # Staged previews carry it: a start after a crash removes those of a gateway that is not alive.
        self._start_id = start_id
        self.listeners: list[PreviewListener] = []
        self.fallbacks: list[PreviewFallback] = []

    async def note_sidecar(self, path: str, sidecar: str, size: int, mtime_ns: int) -> None:
        """A new file's side-car picture compressed: remember it as it was, so that a rescan notices a change."""
        async with self._pool.acquire() as conn:
            await preview_queries.note_sidecar(conn, path, sidecar, size, mtime_ns)

    async def forget_vanished(self) -> None:
        """Forget the side-car pictures of models that have no record any more (after a scan)."""
        async with self._pool.acquire() as conn:
            await preview_queries.forget_vanished(conn)

    async def follow_sidecar(self, path: str, sidecar: str | None, size: int = 0, mtime_ns: int = 0) -> bool:
        """The side-car picture beside an active model is new, replaced (sidecar given) or gone (None): its
        content's preview follows, unless a person set it. Whether the preview changed."""
        async with self._pool.acquire() as conn:
            sha256 = await preview_queries.sha256_of(conn, path)
            if sha256 is None:
                return False
            by_person = await preview_queries.set_by_person(conn, sha256)
        if sidecar is not None:
            if not by_person:
                await self._replace(sha256, lambda staged: self._images.compress_file(sidecar, staged))
            async with self._pool.acquire() as conn:
                await preview_queries.note_sidecar(conn, path, sidecar, size, mtime_ns)
            return not by_person
        async with self._pool.acquire() as conn:
            await preview_queries.forget_sidecar(conn, path)
        if by_person:
            return False
        await self._fall_back(sha256)
        return True

    async def follow_pending_sidecar(self, path: str, sidecar: str | None, size: int = 0, mtime_ns: int = 0
                                     ) -> bool:
        """The same for a file not hashed yet: its pending preview, which its promotion takes along."""
        async with self._pool.acquire() as conn:
            key = await preview_queries.pending_image_key(conn, path)
        if key is None:
            return False
        if sidecar is None:
            await self._images.delete(key)
            async with self._pool.acquire() as conn:
                await preview_queries.forget_sidecar(conn, path)
            return True
        await self._publish(key, lambda staged: self._images.compress_file(sidecar, staged))
        async with self._pool.acquire() as conn:
            await preview_queries.note_sidecar(conn, path, sidecar, size, mtime_ns)
        return True

    async def upload(self, sha256: str, image: bytes) -> str:
        """A person's own picture for a content; returns its image key."""
        await self._known(sha256)
        return await self._replace(sha256, lambda staged: self._images.compress_image(image, staged), by_person=True)

    async def use_picture(self, sha256: str, picture_key: str) -> str:
        """A picture already in the image store (one the hub offered) becomes the person's own, as an upload
        does; returns the preview's image key."""
        await self._known(sha256)

        return await self._replace(sha256, self._copy_of(picture_key), by_person=True)

    def _copy_of(self, picture_key: str) -> Callable[[str], Awaitable[None]]:
        async def copy(staged: str) -> None:
            if not await self._images.link(picture_key, staged):
                raise FileMissing("images", f"the picture {picture_key} is gone from the image store")

        return copy

    async def remove_upload(self, sha256: str) -> tuple[str | None, str | None]:
        """The person's picture goes; a side-car picture beside a file of the content, if any, is shown again,
        else the hub's own preview if it is still in the store. Returns the key now shown and where it came
        from ("sidecar", "hub"), or (None, None)."""
        await self._known(sha256)
        async with self._pool.acquire() as conn:
            if not await preview_queries.unmark_person(conn, sha256):
                raise ApiError(404, "no_preview_set", f"no preview was set by a person for {sha256}")
        return await self._fall_back(sha256)

    async def _known(self, sha256: str) -> None:
        async with self._pool.acquire() as conn:
            if not await preview_queries.has_content(conn, sha256):
                raise ApiError(404, "not_found", f"no model has SHA-256 {sha256}")

    async def _fall_back(self, sha256: str) -> tuple[str | None, str | None]:
        """Show the side-car picture of a file of the content, else a fallback's picture (the hub's), or no
        preview at all; the key shown and its source."""
        async with self._pool.acquire() as conn:
            other = await preview_queries.sidecar_of_content(conn, sha256)
        if other is not None:
            try:
                return await self._replace(sha256, lambda staged: self._images.compress_file(other[1], staged)), \
                    "sidecar"
            except FileFailed:
                pass  # that picture is gone or broken too: the hub's, or none until a scan finds another
        for fallback in self.fallbacks:
            picture = await fallback(sha256)
            if picture is not None:
                try:
                    return await self._replace(sha256, self._copy_of(picture)), "hub"
                except FileFailed:
                    pass
        await self._images.delete(active_image_key(sha256))
        await self._show(sha256, None)
        return None, None

    async def _replace(self, sha256: str, compress: Callable[[str], Awaitable[object]], *, by_person: bool = False
                       ) -> str:
        key = active_image_key(sha256)
        await self._publish(key, compress)
        if by_person:
            async with self._pool.acquire() as conn:
                await preview_queries.mark_person(conn, sha256)
        await self._show(sha256, key)
        return key

    async def _publish(self, key: str, compress: Callable[[str], Awaitable[object]]) -> None:
        """Compress under a staged key, and only a picture that compressed replaces the one under key."""
        staged = staged_image_key(self._start_id)
        try:
            await compress(staged)
            # Link keeps an existing target, so the old picture goes first.
            await self._images.delete(key)
            await self._images.link(staged, key)
        finally:
            # Shielded: a request cancelled here still lets go of its staged file.
            await asyncio.shield(self._images.delete(staged))

    async def _show(self, sha256: str, key: str | None) -> None:
        async with self._pool.acquire() as conn:
            await preview_queries.show(conn, sha256, key)
        for listener in self.listeners:
            listener(sha256, key)
