"""Request handlers of /api/models/{sha256}/preview: a person sets a content's preview, or removes theirs.

The picture is the body (an upload), or JSON {"hub_picture": index} naming one the hub offers
(GET /api/models/{sha256}/hub-pictures): the same resource set by the same person, so the same PUT.
"""

from __future__ import annotations

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.server.http.params import integer, read_params
from backend.util.sha256_text import is_sha256

# The image service takes a picture's bytes in one gRPC message of at most 4 MiB.
MAX_UPLOAD_BYTES = 3 * 1024 * 1024


def sha256_of(request: web.Request) -> str:
    sha256 = request.match_info["sha256"]
    if not is_sha256(sha256):
        raise ApiError(400, "invalid_parameter", "a SHA-256 is 64 hexadecimal digits")
    return sha256.lower()


async def _image_body(request: web.Request) -> bytes:
    """The body, refused past the cap before more than the cap is read."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise _too_large(request.content_length)
    image = await request.content.read(MAX_UPLOAD_BYTES + 1)
    if len(image) > MAX_UPLOAD_BYTES:
        raise _too_large(None)
    if not image:
        raise ApiError(400, "empty_body", "send the picture's bytes as the body")
    return image


def _too_large(size: int | None) -> ApiError:
    told = f"{size:,} bytes" if size is not None else "more than that"
    return ApiError(413, "preview_too_large", f"a preview may be at most {MAX_UPLOAD_BYTES:,} bytes; got {told}")


async def _chosen_picture(request: web.Request) -> int:
    params = await read_params(request)
    unknown = sorted(set(params) - {"hub_picture"})
    if unknown:
        raise ApiError(400, "invalid_parameter", f"unknown field(s) {', '.join(map(repr, unknown))}; "
                                                 "a JSON body takes only 'hub_picture'")
    if params.get("hub_picture") is None:
        raise ApiError(400, "missing_parameter", "'hub_picture' is required: the index of one of the hub's pictures")
    return integer(params, "hub_picture", 0, 0, None)


async def set_preview(request: web.Request) -> web.Response:
    sha256 = sha256_of(request)
    if request.content_type == "application/json":
        index = await _chosen_picture(request)
        key = await request.app[keys.HUB_PICTURES].choose(sha256, index)
    else:
        key = await request.app[keys.CATALOGUE].previews.upload(sha256, await _image_body(request))
    return web.json_response({"sha256": sha256, "image_key": key, "source": "you"})


async def remove_preview(request: web.Request) -> web.Response:
    sha256 = sha256_of(request)
    key, source = await request.app[keys.CATALOGUE].previews.remove_upload(sha256)
    return web.json_response({"sha256": sha256, "image_key": key, "source": source})
