"""GET /images/{key}: a preview file, with the caching its kind of name allows."""

from __future__ import annotations

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.util.image_keys import PENDING_DIR, InvalidKeyError
from backend.util.image_store import resolve_key


async def image(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    try:
        path = resolve_key(request.app[keys.CONFIG].images_dir, key)
    except InvalidKeyError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    if not path.is_file():
        raise ApiError(404, "not_found", f"no image {key!r}")
    # A hash-named preview never changes for its name; a pending one is replaced when re-registered.
    cache = "public, max-age=31536000, immutable" if not key.startswith(PENDING_DIR + "/") else "no-cache"
    return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": "image/webp"})
