"""Every event stream of a job follows one feed: the job's row read once per change, for all its streams.

This gateway's own job wakes its feed when its progress is written and when it ends; another gateway's job
is read every FLUSH_INTERVAL_S, by one reader for all its streams. A stream waits for the next change and
costs nothing meanwhile, so open streams cost memory, not work. Their number is capped all the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from asyncpg import Record

from backend.database import jobs_queries
from backend.server.jobs.context import FLUSH_INTERVAL_S
from backend.server.jobs.model import is_live, job_json
from backend.server.jobs.runner import JobRunner

log = logging.getLogger(__name__)

# A feed whose read failed (the database is away) tries again after this long; its streams stay open.
RETRY_S = 1.0


@dataclass(frozen=True)
class Snapshot:
    """The job as its JSON text, rendered once for every stream, and whether it is still live."""

    json: str
    live: bool


class TooManyStreams(Exception):
    """Every stream slot is taken: the client should come back later."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} event streams are open already, the most this gateway keeps open")
        self.limit = limit


class _Feed:
    """One job's snapshots: a reader task publishes each change, any number of followers wait for the next."""

    def __init__(self, job_id: int, pool: asyncpg.Pool, runner: JobRunner) -> None:
        self.job_id = job_id
        self.followers = 0
        self._pool = pool
        self._runner = runner
        self._snapshot: Snapshot | None = None
        self._state: tuple | None = None
        self._version = 0
        self._ended = False
        # A pulse (set, then cleared at once): every waiter wakes, and the version says what is new.
        self._changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read_forever(), name=f"job-{job_id}-feed")

    async def snapshots(self, quiet_s: float) -> AsyncIterator[Snapshot | None]:
        """Each new state of the job until it ends (intermediate ones may be skipped: each is whole);
        None after quiet_s without a change, so the caller can see whether its client is still there."""
        seen = 0
        while True:
            while self._version == seen and not self._ended:
                try:
                    async with asyncio.timeout(quiet_s):
                        await self._changed.wait()
                except TimeoutError:
                    yield None
            if self._version == seen:
                return  # the job's row is gone
            seen, snapshot = self._version, self._snapshot
            assert snapshot is not None
            yield snapshot
            if not snapshot.live:
                return

    def _publish(self, row: Record | None) -> None:
        if row is None:
            self._ended = True
        else:
            state = tuple(value for name, value in row.items() if name != "observed_at")
            if state == self._state:
                return
            self._state, self._version = state, self._version + 1
            self._snapshot = Snapshot(json.dumps(job_json(row)), is_live(row))
        self._changed.set()
        self._changed.clear()

    async def _read_forever(self) -> None:
        try:
            await self._follow_the_row()
        except Exception:  # noqa: BLE001 - a bug here ends the streams, not the gateway
            log.exception("the event feed of job %d failed", self.job_id)
            self._publish(None)

    async def _follow_the_row(self) -> None:
        while True:
            # Taken before the read: a write during it is not missed.
            change = self._next_change()
            row = await self._read()
            self._publish(row)
            if row is None or not is_live(row):
                return
            if change is None:
                await asyncio.sleep(FLUSH_INTERVAL_S)
            else:
                await asyncio.wait(change, return_when=asyncio.FIRST_COMPLETED)

    def _next_change(self) -> set[asyncio.Future] | None:
        """What completes at this gateway's job's next write or its end; None for another gateway's job."""
        task, context = self._runner.task(self.job_id), self._runner.context(self.job_id)
        if task is None or task.done() or context is None:
            return None
        return {context.next_write(), task}

    async def _read(self) -> Record | None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    return await jobs_queries.get_job(conn, self.job_id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("reading job %d for its event streams failed: %s", self.job_id, exc)
                await asyncio.sleep(RETRY_S)


class Following:
    """One stream's slot and its job's feed; leaving (the `with` block's end) frees the slot."""

    def __init__(self, feeds: JobFeeds, feed: _Feed) -> None:
        self._feeds = feeds
        self.feed = feed

    def __enter__(self) -> _Feed:
        return self.feed

    def __exit__(self, *_exc: object) -> None:
        self._feeds.leave(self.feed)


class JobFeeds:
    """The feeds of the jobs being followed, and the count of open streams against the cap."""

    def __init__(self, pool: asyncpg.Pool, runner: JobRunner, max_streams: int) -> None:
        self._pool = pool
        self._runner = runner
        self._max_streams = max_streams
        self._feeds: dict[int, _Feed] = {}
        self.open_streams = 0
        # The other streams that share the cap (GET /api/events).
        self.also_open: Callable[[], int] = lambda: 0

    def follow(self, job_id: int) -> Following:
        """A slot for one stream of job_id; TooManyStreams when every slot is taken."""
        if self.open_streams + self.also_open() >= self._max_streams:
            raise TooManyStreams(self._max_streams)
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(job_id, self._pool, self._runner)
        feed.followers += 1
        self.open_streams += 1
        return Following(self, feed)

    def leave(self, feed: _Feed) -> None:
        feed.followers -= 1
        self.open_streams -= 1
        if feed.followers == 0 and self._feeds.get(feed.job_id) is feed:
            del self._feeds[feed.job_id]
            feed.reader.cancel()  # nobody follows the job any more: its row need not be read

    async def close(self) -> None:
        readers = [feed.reader for feed in self._feeds.values()]
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
