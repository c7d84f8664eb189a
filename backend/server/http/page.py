"""The page at / and its static files, served from the package with cache headers."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from backend.server.http.errors import ApiError

# The page ships inside the gateway package: backend/server/static.
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# Plain names only: a request can never reach outside the static folder.
_STATIC_NAME = re.compile(r"^(?:js/)?[a-z0-9_-]+\.(?:js|css|svg)$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# The page revalidates each time (ETag, Last-Modified) so a new version shows at once; its parts may be
# reused for a minute without asking.
_HTML_CACHE = "no-cache"
_ASSET_CACHE = "public, max-age=60"


async def index(request: web.Request) -> web.StreamResponse:
    return _file(STATIC_DIR / "index.html", "text/html", _HTML_CACHE)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise ApiError(404, "not_found", f"no page file {name!r}")
    return _file(path, _TYPES[path.suffix], _ASSET_CACHE)


def _file(path: Path, content_type: str, cache: str) -> web.FileResponse:
    # FileResponse answers If-None-Match / If-Modified-Since with 304 from its ETag and Last-Modified.
    return web.FileResponse(path, headers={
        "Cache-Control": cache,
        "Content-Type": f"{content_type}; charset=utf-8" if content_type != "image/svg+xml" else content_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        ),
    })
