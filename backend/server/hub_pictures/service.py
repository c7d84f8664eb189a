"""The pictures the hub offers for a content: listed, fetched once each as a thumbnail, and one chosen as preview.

The page loads nothing from the internet (its CSP says 'self'), so the gateway downloads a picture on its first
request (HubPreviews' careful download: allowed hosts, no redirect, a size cap, a timeout), has the image service
make it a WebP like every preview, and serves that file from then on. Choosing one makes it the person's own
preview, as an upload would (previews/service.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from backend.database import hub_queries, preview_queries
from backend.server.adapters.clients import ImagesClient
from backend.server.adapters.failures import FileFailed
from backend.server.http.errors import ApiError
from backend.server.hub.lookups import PreviewRefused
from backend.server.hub.preview_download import HubPreviews
from backend.server.previews.service import Previews
from backend.util.image_keys import hub_picture_key
from backend.util.image_store import resolve_key


@dataclass(frozen=True)
class HubPicture:
    # The picture's place in the hub's list as kept (hub_images): the API's name for it.
    index: int
    url: str
    nsfw_level: int


class HubPictures:
    def __init__(self, pool: asyncpg.Pool, images: ImagesClient, downloads: HubPreviews, previews: Previews,
                 session: aiohttp.ClientSession, images_dir: Path, max_nsfw_level: int) -> None:
        self._pool = pool
        self._images = images
        self._downloads = downloads
        self._previews = previews
        self._session = session
        self._images_dir = images_dir
        self._max_nsfw_level = max_nsfw_level

    async def offered(self, sha256: str) -> list[HubPicture]:
        """The content's hub pictures that may be shown: on an allowed host, rated at or under the ceiling."""
        return [picture for picture, refusal in await self._kept(sha256) if refusal is None]

    async def thumbnail(self, sha256: str, index: int) -> str:
        """The image key of the picture's WebP, downloaded and compressed on its first request."""
        picture = await self._picture(sha256, index)
        key = hub_picture_key(sha256, picture.url)
        if self._stored(key):
            return key
        try:
            content = await self._downloads.download(self._session, picture.url)
        except PreviewRefused as exc:
            raise ApiError(502, "hub_picture_unavailable", f"the hub's picture {index} of {sha256} could not be "
                                                           f"fetched: {exc}") from None
        try:
            await self._images.compress_image(content, key)
        except FileFailed as exc:
            raise ApiError(502, "hub_picture_refused", f"the hub's picture {index} of {sha256} is no picture the "
                                                       f"image service takes: {exc.message}") from None
        return key

    async def automatic(self, sha256: str) -> str | None:
        """The picture the hub job takes as a content's preview (its first it may show), when it is in the
        store (the hub job keeps it there as that picture's thumbnail): its image key, or None."""
        offered = await self.offered(sha256)
        if not offered:
            return None
        key = hub_picture_key(sha256, offered[0].url)
        return key if self._stored(key) else None

    def _stored(self, key: str) -> bool:
        return resolve_key(self._images_dir, key).is_file()

    async def choose(self, sha256: str, index: int) -> str:
        """The picture becomes the person's preview (it wins until they remove it); the preview's image key."""
        return await self._previews.use_picture(sha256, await self.thumbnail(sha256, index))

    async def _picture(self, sha256: str, index: int) -> HubPicture:
        kept = await self._kept(sha256)
        if not 0 <= index < len(kept):
            raise ApiError(404, "no_such_picture", f"the hub offers no picture {index} for {sha256} "
                                                   f"({len(kept)} kept, numbered from 0)")
        picture, refusal = kept[index]
        if refusal is not None:
            raise ApiError(403, "picture_not_allowed", f"the hub's picture {index} of {sha256} {refusal}")
        return picture

    async def _kept(self, sha256: str) -> list[tuple[HubPicture, str | None]]:
        """Every kept picture with why it may not be shown (None: it may)."""
        async with self._pool.acquire() as conn:
            if not await preview_queries.has_content(conn, sha256):
                raise ApiError(404, "not_found", f"no model has SHA-256 {sha256}")
            kept = await hub_queries.hub_images_of(conn, sha256)
        return [self._judged(index, entry) for index, entry in enumerate(kept)]

    def _judged(self, index: int, entry: Any) -> tuple[HubPicture, str | None]:
        url = entry.get("url") if isinstance(entry, dict) else None
        level = entry.get("nsfw_level") if isinstance(entry, dict) else None
        picture = HubPicture(index, url if isinstance(url, str) else "", level if isinstance(level, int) else 0)
        if not picture.url or not self._downloads.allowed(picture.url):
            return picture, ("is not on an allowed host (https from MODELVAULT_HUB_IMAGE_HOSTS, or the hub itself)")
        if picture.nsfw_level <= 0 or picture.nsfw_level > self._max_nsfw_level:
            return picture, (f"is rated {level if level is not None else 'by nobody'}, above "
                             f"MODELVAULT_HUB_MAX_NSFW_LEVEL ({self._max_nsfw_level})")
        return picture, None
