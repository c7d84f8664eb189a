"""Request handlers of /api/jobs: start, list, show and cancel jobs."""

from __future__ import annotations

import asyncio

from aiohttp import web

from backend.server import keys
from backend.server.http.errors import ApiError
from backend.server.http.params import known_query, page, read_params
from backend.server.jobs.control import JobRunningError
from backend.server.jobs.model import job_json
from backend.server.jobs.story import CLIENT_STARTERS


def job_id_of(request: web.Request) -> int:
    raw = request.match_info["id"]
    # isascii: "²" is a digit to str.isdigit, and int() refuses it.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ApiError(400, "invalid_parameter", f"a job id is a positive integer; got {raw!r}")
    return int(raw)


STARTED_BY_HEADER = "X-ModelVault-Started-By"


def _started_by(request: web.Request) -> str:
    """Who asks, as the client names itself (the page, the command line); else a plain API request."""
    given = request.headers.get(STARTED_BY_HEADER)
    if given is None:
        return "api"
    if given not in CLIENT_STARTERS:
        known = ", ".join(sorted(CLIENT_STARTERS))
        raise ApiError(400, "invalid_parameter", f"{STARTED_BY_HEADER} must be one of {known}; got {given[:40]!r}")
    return given


async def start_job(request: web.Request) -> web.Response:
    jobs = request.app[keys.JOBS]
    started_by = _started_by(request)
    name, params = jobs.validate(await read_params(request))
    try:
        # Shielded: a job whose row is written runs, even when the client that asked for it has gone.
        row = await asyncio.shield(jobs.start(name, params, started_by))
    except JobRunningError as exc:
        message = f"a {name} job over this folder is running already (job {exc.job_id})"
        return web.json_response({"error": {"code": "job_running", "message": message, "job_id": exc.job_id}},
                                 status=409)
    return web.json_response(job_json(row), status=202)


async def list_jobs(request: web.Request) -> web.Response:
    known_query(request, ("limit", "offset"))
    limit, offset = page(request)
    rows, total = await request.app[keys.JOBS].page(limit, offset)
    return web.json_response({"items": [job_json(r) for r in rows], "total": total, "limit": limit, "offset": offset})


async def show_job(request: web.Request) -> web.Response:
    known_query(request, ())
    return web.json_response(job_json(await request.app[keys.JOBS].get(job_id_of(request))))


async def cancel_job(request: web.Request) -> web.Response:
    return web.json_response(job_json(await request.app[keys.JOBS].cancel(job_id_of(request))))
