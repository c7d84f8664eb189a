"""A content without a preview gets the thumbnail its file embeds (modelspec.thumbnail), as side-car previews do.

The same order as promotion: the image is compressed under a pending key, linked to `<sha256>.webp` (which
keeps a preview already there: a local preview is never replaced), given to the content's files that have
none, and the pending key deleted. A thumbnail that is not an image is that file's note, never a failed job.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from backend.database import db, header_queries
from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.adapters.failures import FileFailed
from backend.util.image_keys import PENDING_DIR, SUFFIX, active_image_key

REPORT_LIMIT = 100


def staging_key(sha256: str) -> str:
    return f"{PENDING_DIR}/header-thumbnail-{sha256}{SUFFIX}"


async def adopt_thumbnails(pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient,
                           candidates: Sequence[tuple[str, str]], errors: list[dict[str, str]]) -> int:
    """For each (sha256, path) whose header embeds a thumbnail and whose content has no preview: adopt it.
    Returns how many became previews; appends to errors what could not."""
    if not candidates:
        return 0
    async with pool.acquire() as conn:
        bare = await header_queries.without_preview(conn, [sha256 for sha256, _ in candidates])
    adopted = 0
    for sha256, path in candidates:
        if sha256 not in bare:
            continue
        staged = staging_key(sha256)
        try:
            image = await hasher.read_thumbnail(path)
            await images.compress_image(image, staged)
            await images.link(staged, active_image_key(sha256))
            async with pool.acquire() as conn:
                await db.share_image(conn, sha256, active_image_key(sha256))
            adopted += 1
        except FileFailed as exc:
            if len(errors) < REPORT_LIMIT:
                errors.append({"path": path, "message": f"its embedded thumbnail: {exc.message}"})
        finally:
            await images.delete(staged)
    return adopted
