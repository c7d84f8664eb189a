"""POST /api/session: the page's sign-in, which trades the token for this instance's HttpOnly cookie."""

from __future__ import annotations

import hmac

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.server.http.params import read_params, required_text
from backend.server.session.cookie import session_cookie


async def sign_in(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    cookie = session_cookie(config)
    token = required_text(await read_params(request), "token")
    if cookie is None:
        return web.Response(status=204)  # this gateway asks for no token
    if not hmac.compare_digest(token.encode(), config.gateway.api_token.encode()):
        raise ApiError(401, "unauthorized", "that token is not this gateway's")
    reply = web.Response(status=204)
    # No Max-Age: the cookie ends with the browser session. Secure when the page came over HTTPS.
    reply.set_cookie(cookie.name, cookie.value, path="/", httponly=True, samesite="Strict",
                     secure=request.secure)
    return reply

