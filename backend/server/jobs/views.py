"""Request handlers of /api/jobs: start, list, show and cancel jobs."""

from __future__ import annotations

import asyncio

from aiohttp import web
from asyncpg import Record

from backend.database import jobs_db
from backend.server import keys
from backend.server.errors import ApiError
from backend.server.jobs.model import is_live, job_json
from backend.server.params import page, read_params

# A cancelled job of this gateway has ended by then: its hasher calls stop at once.
_CANCEL_WAIT_S = 5.0


def job_id_of(request: web.Request) -> int:
    raw = request.match_info["id"]
    # isascii: "²" is a digit to str.isdigit, and int() refuses it.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ApiError(400, "invalid_parameter", f"a job id is a positive integer; got {raw!r}")
    return int(raw)


async def load_job(request: web.Request, job_id: int) -> Record:
    async with request.app[keys.POOL].acquire() as conn:
        row = await jobs_db.get_job(conn, job_id)
    if row is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    return row


async def start_job(request: web.Request) -> web.Response:
    runner = request.app[keys.JOBS]
    name, params = runner.validate(await read_params(request))
    try:
        # Shielded: a job whose row is written runs, even when the client that asked for it has gone.
        row = await asyncio.shield(runner.start(name, params))
    except jobs_db.JobRunningError as exc:
        message = f"a {name} job over this folder is running already (job {exc.job_id})"
        return web.json_response({"error": {"code": "job_running", "message": message, "job_id": exc.job_id}},
                                 status=409)
    return web.json_response(job_json(row), status=202)


async def list_jobs(request: web.Request) -> web.Response:
    limit, offset = page(request)
    async with request.app[keys.POOL].acquire() as conn:
        rows, total = await jobs_db.list_jobs(conn, limit, offset)
    return web.json_response({"items": [job_json(r) for r in rows], "total": total, "limit": limit, "offset": offset})


async def show_job(request: web.Request) -> web.Response:
    return web.json_response(job_json(await load_job(request, job_id_of(request))))


async def cancel_job(request: web.Request) -> web.Response:
    job_id = job_id_of(request)
    row = await load_job(request, job_id)
    if is_live(row):
        await request.app[keys.JOBS].cancel(job_id)
        row = await load_job(request, job_id)
    return web.json_response(job_json(row))
