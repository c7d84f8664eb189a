"""A found content's preview from the hub, for a content that has none: downloaded with care, checked, stored.

Only https from MODELVAULT_HUB_IMAGE_HOSTS, or the configured hubs' own origins; no redirect, no token, at most
MAX_PREVIEW_BYTES. The image service decodes it as it would a side-car preview (it refuses what is no image, a
decompression bomb, a format it does not take), and it is stored as `<sha256>.webp` through a staging key and
a Link that keeps any preview already there: a local preview is never replaced.
"""

from __future__ import annotations

import urllib.parse

import aiohttp
import asyncpg

from backend.database import db, hub_queries
from backend.server.adapters.clients import ImagesClient
from backend.server.adapters.failures import FileFailed
from backend.server.hub.answers import HubVersion
from backend.server.hub.client import HubFailure, read_capped
from backend.server.hub.lookups import PreviewRefused
from backend.util.hub_config import HubConfig
from backend.util.image_keys import hub_picture_key

# Within the image service's 4 MiB message; Civitai's previews are a few hundred KB.
MAX_PREVIEW_BYTES = 3 * 1024 * 1024


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class HubPreviews:
    def __init__(self, pool: asyncpg.Pool, images: ImagesClient, config: HubConfig) -> None:
        self._pool = pool
        self._images = images
        self._config = config
        self._hub_origins = {_origin(url) for url in (config.url, config.fallback_url) if url}

    def allowed(self, url: str) -> bool:
        """https from an image host, or a hub's own origin (its scheme, host and port): never file:, data:…"""
        origin = _origin(url)
        return origin in self._hub_origins or (origin[0] == "https" and origin[1] in self._config.image_hosts)

    async def fetch(self, session: aiohttp.ClientSession, version: HubVersion, hub: str) -> bool:
        """True when the content got the hub's preview; False when it has one or the hub shows none allowed."""
        image = version.preview(self._config.max_nsfw_level)
        if image is None:
            return False
        async with self._pool.acquire() as conn:
            if await hub_queries.has_preview(conn, version.sha256):
                return False
        if not self.allowed(image.url):
            raise PreviewRefused(f"preview {image.url[:200]!r} is not on an allowed host "
                                 "(https from MODELVAULT_HUB_IMAGE_HOSTS, or the hub itself)")
        content = await self.download(session, image.url)
        key, staged = f"{version.sha256}.webp", f"pending/hub-{version.sha256}.webp"
        try:
            await self._images.compress_image(content, staged)
        except FileFailed as exc:
            raise PreviewRefused(f"preview {image.url[:200]!r} refused by the image service: {exc.message}") from None
        try:
            await self._images.link(staged, key)  # keeps a preview that arrived meanwhile
            # Kept as that picture's thumbnail too: a person who sets a picture of their own and removes it
            # later gets this one back (hub_pictures), with nothing downloaded again.
            await self._images.link(staged, hub_picture_key(version.sha256, image.url))
        finally:
            await self._images.delete(staged)
        async with self._pool.acquire() as conn:
            await db.share_image(conn, version.sha256, key)
        return True

    async def download(self, session: aiohttp.ClientSession, url: str) -> bytes:
        """An image's bytes, or PreviewRefused saying why (an HTTP status, a redirect, too large, no answer)."""
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        try:
            async with session.get(url, timeout=timeout, allow_redirects=False) as reply:
                if reply.status != 200:
                    where = f" to {reply.headers.get('Location', '?')!r}" if 300 <= reply.status < 400 else ""
                    raise PreviewRefused(f"preview {url[:200]!r} answered HTTP {reply.status}{where}")
                return await read_capped(reply, MAX_PREVIEW_BYTES, url)
        except HubFailure as exc:
            raise PreviewRefused(str(exc)) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            why = str(exc) or "no answer in time"
            raise PreviewRefused(f"preview {url[:200]!r} could not be downloaded: {why}") from None
