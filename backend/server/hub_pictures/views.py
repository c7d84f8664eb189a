"""Request handlers of /api/models/{sha256}/hub-pictures: the hub's pictures of a model, and their thumbnails."""

from __future__ import annotations

from aiohttp import web

from backend.server import keys
from backend.server.http.params import integer, known_query
from backend.server.previews.views import sha256_of
from backend.util.image_store import resolve_key


def thumbnail_url(sha256: str, index: int) -> str:
    return f"/api/models/{sha256}/hub-pictures/{index}/thumbnail"


async def list_hub_pictures(request: web.Request) -> web.Response:
    known_query(request, ())
    sha256 = sha256_of(request)
    pictures = await request.app[keys.HUB_PICTURES].offered(sha256)
    return web.json_response({"pictures": [
        {"index": p.index, "nsfw_level": p.nsfw_level, "thumbnail": thumbnail_url(sha256, p.index)}
        for p in pictures]})


async def hub_picture_thumbnail(request: web.Request) -> web.StreamResponse:
    known_query(request, ())
    sha256 = sha256_of(request)
    key = await request.app[keys.HUB_PICTURES].thumbnail(sha256, integer(request.match_info, "index", 0, 0, None))
    path = resolve_key(request.app[keys.CONFIG].images_dir, key)
    # The index may name another picture after the next hub job: asked again each time, its ETag saves the bytes.
    return web.FileResponse(path, headers={"Cache-Control": "no-cache", "Content-Type": "image/webp"})
