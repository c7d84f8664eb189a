"""GET /api/events: Server-Sent Events of catalogue changes (models, previews, jobs), in batches at most 4 a second."""

from __future__ import annotations

from contextlib import aclosing

from aiohttp import web

from backend.server import keys
from backend.server.events.bus import TooManyEventStreams, batches
from backend.server.http.errors import error_response
from backend.server.http.params import known_query

# A stream with nothing to send looks this often whether its client left.
QUIET_CHECK_S = 10.0
RETRY_AFTER_S = 5


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def catalogue_events(request: web.Request) -> web.StreamResponse:
    known_query(request, ())
    bus = request.app[keys.CHANGE_BUS]
    try:
        bus.check_room(also_open=request.app[keys.JOBS].open_streams)
    except TooManyEventStreams as exc:
        reply = error_response(503, "too_many_streams", f"{exc}; try again later")
        reply.headers["Retry-After"] = str(RETRY_AFTER_S)
        return reply
    with bus.subscribe() as subscription:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        # Said first: from here on every change reaches this stream, so a page may load its view now.
        await response.write(b"event: ready\ndata: {}\n\n")
        try:
            async with aclosing(batches(subscription, QUIET_CHECK_S)) as stream:
                async for batch in stream:
                    if batch is None:
                        if _gone(request):
                            return response
                        await response.write(b": still here\n\n")
                    else:
                        await response.write(f"event: changes\ndata: {batch}\n\n".encode())
        except ConnectionResetError:
            pass
        return response
