"""What the job endpoints ask for: start a job, run one for a waiting request, list, show and cancel jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import jobs_queries
from backend.database.jobs_queries import JobRunningError
from backend.server.http.errors import ApiError
from backend.server.jobs.attached import run_attached
from backend.server.jobs.feeds import Following, JobFeeds, TooManyStreams
from backend.server.jobs.model import is_live
from backend.server.jobs.runner import JobRunner
from backend.util.progress import Progress

__all__ = ["JobRunningError", "Jobs", "TooManyStreams"]


class Jobs:
    """The jobs as the API sees them: this gateway's runner starts and stops them, the table shows every gateway's."""

    def __init__(self, runner: JobRunner, pool: asyncpg.Pool, max_streams: int) -> None:
        self._runner = runner
        self._pool = pool
        self._feeds = JobFeeds(pool, runner, max_streams)

    def validate(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The kind's name and its params as the kind reads them; 400 for an unknown kind or a bad field."""
        return self._runner.validate(body)

    async def start(self, name: str, params: dict[str, Any], started_by: str = "api") -> Record:
        """Queue the job and start it; JobRunningError while one of its kind runs over the same folder."""
        return await self._runner.start(name, params, started_by=started_by)

    async def run_attached(self, name: str, params: dict[str, Any], on_progress: Progress | None) -> dict[str, Any]:
        """The job's result, for a request that waits for it (and stops it when the client goes)."""
        return await run_attached(self._runner, name, params, on_progress)

    async def page(self, limit: int, offset: int) -> tuple[list[Record], int]:
        """A page of jobs, newest first, and how many there are."""
        async with self._pool.acquire() as conn:
            return await jobs_queries.list_jobs(conn, limit, offset)

    async def get(self, job_id: int) -> Record:
        """The job's row as it is now; 404 when there is none."""
        async with self._pool.acquire() as conn:
            row = await jobs_queries.get_job(conn, job_id)
        if row is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        return row

    def follow(self, job_id: int) -> Following:
        """An event stream's slot and the job's shared feed of snapshots; TooManyStreams beyond the cap."""
        return self._feeds.follow(job_id)

    @property
    def open_streams(self) -> int:
        """Job event streams open on this gateway: they share MODELVAULT_MAX_EVENT_STREAMS with GET /api/events."""
        return self._feeds.open_streams

    def share_stream_cap(self, others: Callable[[], int]) -> None:
        """Count these other streams against the job streams' cap too."""
        self._feeds.also_open = others

    async def close(self) -> None:
        """Stop reading the followed jobs' rows: the pool is about to close."""
        await self._feeds.close()

    async def cancel(self, job_id: int) -> Record:
        """Stop a live job and return its row as it ended; a job that has ended already stays as it is."""
        row = await self.get(job_id)
        if is_live(row):
            await self._runner.cancel(job_id)
            row = await self.get(job_id)
        return row
