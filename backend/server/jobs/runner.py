"""The job engine: one asyncio task per job, a heartbeat for the gateway's live jobs, and the search for dead ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import jobs_queries
from backend.server.adapters.failures import ServiceFailure
from backend.server.http.errors import ApiError, database_gone
from backend.server.http.request_paths import folder_key
from backend.server.jobs.context import JobContext, Listener
from backend.server.jobs.failure import job_error
from backend.server.jobs.model import Outcome
from backend.server.jobs.news import job_changed, models_changed

log = logging.getLogger(__name__)

# A job's end that the database could not take is written again after these pauses, doubling, until it is back.
FIRST_RETRY_S = 0.25
MAX_RETRY_S = 2.0


@dataclass(frozen=True)
class JobKind:
    """run(ctx) does the work and returns the job's result; validate(body) returns the job's params or raises 400."""

    run: Callable[[JobContext], Awaitable[dict[str, Any]]]
    validate: Callable[[dict[str, Any]], dict[str, Any]]


class JobRunner:
    """Starts, cancels and finishes this gateway's jobs; started and closed by a cleanup context."""

    def __init__(self, pool: asyncpg.Pool, stale_s: float, data_dir: str | None = None,
                 roots: Sequence[Path] = ()) -> None:
        """data_dir: the data folder whose lock this gateway holds (it is the folder's only gateway), if any;
        roots: the model roots, by which a job's folder is one folder however it is spelled."""
        self.owner = uuid.uuid4().hex
        self.data_dir = data_dir
        self._roots = tuple(roots)
        self.kinds: dict[str, JobKind] = {}
        self._pool = pool
        self._stale_s = stale_s
        self._tasks: dict[int, asyncio.Task[Outcome]] = {}
        self._contexts: dict[int, JobContext] = {}
        self._cancelling: set[int] = set()
        self._closing = asyncio.Event()
        # Told of each job that starts or ends (the stream of catalogue changes listens).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def register(self, name: str, kind: JobKind) -> None:
        self.kinds[name] = kind

    def validate(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = body.get("kind")
        if not isinstance(name, str) or name not in self.kinds:  # a list or an object is no kind (nor hashable)
            known = ", ".join(sorted(self.kinds))
            raise ApiError(400, "invalid_parameter", f"'kind' must be one of {known}; got {name!r}")
        return name, self.kinds[name].validate({k: v for k, v in body.items() if k != "kind"})

    async def start(
        self, name: str, params: dict[str, Any], *, exclusive: bool = True, listener: Listener | None = None,
        started_by: str = "api",
    ) -> Record:
        """Insert the job and start its task; JobRunningError when exclusive and one runs over that folder.

        started_by says who asked, in the words of STARTERS (the page, the command line, the watcher...)."""
        # Every spelling of a folder is one key (the watcher's and the API's alike): "//root" is "/root", and the
        # only root is the whole library, "".
        key = f"{name}:{folder_key(params.get('folder', ''), self._roots)}" if exclusive else None
        async with self._pool.acquire() as conn:
            row = await jobs_queries.insert_job(conn, kind=name, params=params, exclusive_key=key, owner=self.owner,
                                                owner_data_dir=self.data_dir, started_by=started_by)
        context = JobContext(row["id"], params, listener, kind=name)
        task = asyncio.create_task(self._run(self.kinds[name], context), name=f"job-{row['id']}")
        self._tasks[row["id"]], self._contexts[row["id"]] = task, context
        task.add_done_callback(lambda _t: (self._tasks.pop(row["id"], None), self._contexts.pop(row["id"], None)))
        self._tell(job_changed(row["id"], name, row["state"], started_by))
        return row

    def _tell(self, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(event)

    def task(self, job_id: int) -> asyncio.Task[Outcome] | None:
        return self._tasks.get(job_id)

    def context(self, job_id: int) -> JobContext | None:
        """A running job's context, whose writes its event streams wait for."""
        return self._contexts.get(job_id)

    async def cancel(self, job_id: int) -> None:
        """Stop a job: ours at once (its reads stop with its calls); another gateway's at its next heartbeat."""
        task = self._tasks.get(job_id)
        if task is None:
            async with self._pool.acquire() as conn:
                await jobs_queries.request_cancel(conn, job_id)
            return
        self._cancelling.add(job_id)
        task.cancel()
        await asyncio.wait({task})
        await self._ended_unstarted(job_id, task, "cancelled")

    async def _ended_unstarted(self, job_id: int, task: asyncio.Task[Outcome], state: str) -> None:
        """A task cancelled before its first step never ran its own ending: write it here."""
        self._cancelling.discard(job_id)
        if task.cancelled():
            async with self._pool.acquire() as conn:
                await jobs_queries.finish_job(conn, job_id, state=state, progress={}, error_code=state,
                                         error="stopped before it began")

    async def _run(self, kind: JobKind, ctx: JobContext) -> Outcome:
        try:
            async with self._pool.acquire() as conn:
                await jobs_queries.mark_running(conn, ctx.job_id)
            ctx.wrote()
            outcome = Outcome("done", await self._work(kind, ctx))
        except asyncio.CancelledError:
            # Ours to swallow: the task ends with its outcome, which the row records below.
            cancelled = ctx.job_id in self._cancelling
            error = (ApiError(409, "cancelled", "cancelled on request") if cancelled
                     else ApiError(503, "interrupted", "the gateway stopped while the job ran"))
            outcome = Outcome(error.code, error=error)
        except (ApiError, ServiceFailure) as exc:
            outcome = Outcome("failed", error=exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one job must not take the gateway down
            if database_gone(exc):
                log.error("job %d failed: the database went away: %s", ctx.job_id, exc)
            else:
                log.exception("job %d failed", ctx.job_id)
            outcome = Outcome("failed", error=exc)
        finally:
            self._cancelling.discard(ctx.job_id)
        await asyncio.shield(self._write_end(ctx, outcome))
        log.info("job %d ended %s%s", ctx.job_id, outcome.state,
                 f": {outcome.error}" if outcome.error is not None else "")
        return outcome

    async def _work(self, kind: JobKind, ctx: JobContext) -> dict[str, Any]:
        """The kind's work beside the writer of its progress: when that writer finds the database gone, the
        job learns it then (and fails), not at its own next query, which a long read may put off for minutes."""
        try:
            async with asyncio.TaskGroup() as group:
                flusher = group.create_task(ctx.flush_forever(self._pool))
                try:
                    return await kind.run(ctx)
                finally:
                    flusher.cancel()
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the kind's failure, or the writer's

    async def _write_end(self, ctx: JobContext, outcome: Outcome) -> None:
        """The job's end in its row; while the database is gone, written again until it is back, so that the
        row says why the job ended and stops holding its folder (409) as soon as the database answers."""
        pause = FIRST_RETRY_S
        while True:
            try:
                await self._finish(ctx, outcome)
                return
            except Exception as exc:
                if not database_gone(exc):
                    raise
                if self._closing.is_set():
                    # Our successor (or another gateway's heartbeat) finds the row and ends it.
                    log.error("job %d ended %s, which could not be written: %s", ctx.job_id, outcome.state, exc)
                    return
                log.warning("job %d ended %s; writing that waits for the database: %s", ctx.job_id,
                            outcome.state, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), pause)
            pause = min(pause * 2, MAX_RETRY_S)

    async def _finish(self, ctx: JobContext, outcome: Outcome) -> None:
        error = job_error(outcome.error) if outcome.error is not None else None
        async with self._pool.acquire() as conn:
            await jobs_queries.finish_job(conn, ctx.job_id, state=outcome.state, progress=ctx.fields,
                                     result=outcome.result, error_code=error and error.code,
                                     error=error and error.message)
        self._tell(job_changed(ctx.job_id, ctx.kind, outcome.state, None))
        if (models := models_changed(ctx.job_id, ctx.kind, outcome.result)) is not None:
            self._tell(models)

    async def heartbeat_forever(self) -> None:
        """Keep our jobs alive in the table, stop those cancelled elsewhere, and interrupt other gateways' dead ones."""
        interval = min(1.0, self._stale_s / 3)
        while True:
            try:
                async with self._pool.acquire() as conn:
                    # Only jobs with a living task: a row whose task is gone goes stale like a dead gateway's.
                    for job_id in await jobs_queries.beat(conn, list(self._tasks)):
                        if job_id in self._tasks:
                            asyncio.create_task(self.cancel(job_id))
                    for job_id in await jobs_queries.interrupt_stale(conn, self._stale_s):
                        log.warning("job %d was interrupted: its gateway stopped beating", job_id)
            except Exception as exc:  # noqa: BLE001 - the heartbeat outlives the database's absence and any one bug
                if not database_gone(exc):
                    log.exception("job heartbeat failed")
                else:
                    log.warning("job heartbeat failed: the database went away: %s", exc)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """The gateway stops: every running job ends as interrupted, with what it did, its leases given back."""
        self._closing.set()
        running = list(self._tasks.items())
        for _, task in running:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*(task for _, task in running), return_exceptions=True)
        for job_id, task in running:
            await self._ended_unstarted(job_id, task, "interrupted")
