"""GET /api/jobs/{id}/events: Server-Sent Events, the current state first, progress at most 4 times a second."""

from __future__ import annotations

from contextlib import aclosing

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import error_response
from backend.server.http.params import known_query
from backend.server.jobs.control import TooManyStreams
from backend.server.jobs.views import job_id_of

# When every stream slot is taken: streams end with their jobs, so a slot frees within seconds or minutes.
RETRY_AFTER_S = 5
# A stream with nothing to send looks this often whether its client left (for a server that does not
# cancel the handler of a closed connection itself, as `python -m backend.server` does).
QUIET_CHECK_S = 10.0


def _event(name: str, job: str) -> bytes:
    return f"event: {name}\ndata: {job}\n\n".encode()


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _too_many(exc: TooManyStreams) -> web.Response:
    reply = error_response(503, "too_many_streams", f"{exc}; try again later")
    reply.headers["Retry-After"] = str(RETRY_AFTER_S)
    return reply


async def job_events(request: web.Request) -> web.StreamResponse:
    known_query(request, ())
    job_id = job_id_of(request)
    jobs = request.app[keys.JOBS]
    try:
        following = jobs.follow(job_id)
    except TooManyStreams as exc:
        return _too_many(exc)
    with following as feed:
        await jobs.get(job_id)  # a 404 before the stream starts
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        # The feed has every change of the row, which its writer changes at most 4 times a second.
        sent = False
        try:
            async with aclosing(feed.snapshots(QUIET_CHECK_S)) as snapshots:
                async for snapshot in snapshots:
                    if snapshot is None:
                        if _gone(request):
                            return response
                    elif snapshot.live:
                        await response.write(_event("progress", snapshot.json))
                        sent = True
                    else:
                        if not sent:
                            await response.write(_event("progress", snapshot.json))
                        await response.write(_event("done", snapshot.json))
                        await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away: nothing more to send, and the job goes on
    return response
