"""Hash the pending queue with every hasher worker busy: lease rows in batches, hash in parallel, promote in batches.

Safe with several gateways at once: rows are leased with SKIP LOCKED and the lease is renewed while
its file is read, so the rows of a gateway that died return to the queue within one lease.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any, Unpack

import asyncpg
from asyncpg import Record

from backend.database import queue_queries
from backend.database.migration.promotion import Promotions
from backend.server.adapters.clients import HasherClient, hashed_file
from backend.server.adapters.failures import FileChanged, FileFailed, ServiceDown, ServiceFailure
from backend.util.config import GROWING_SETTLE_FACTOR
from backend.util.file_identity import HashedFile
from backend.util.progress import Progress, ProgressFields

# A failed file waits this long before a batch tries it again.
RETRY_AFTER_S = 600.0
# Lists in the report stop here; the counts go on.
REPORT_LIMIT = 1000
# Dev mode answers shadow files without reading: they go in HashMany calls of this many, a few at once.
LIGHT_BATCH = 64
LIGHT_CALLS = 4
PROMOTE_BATCH = 256
# Files finish one by one; the promoter waits this long for more before writing, so a transaction
# promotes several (each one costs eight round trips and a commit, whatever its size).
PROMOTE_LINGER_S = 0.05
# Hash calls in flight per hasher worker: one being read and the next one waiting in the hasher, which
# hands it to the worker the moment it is free (the hasher's QUEUED_PER_WORKER). The hasher itself reads
# one file at a time from a spinning disk, whoever asks.
CALLS_PER_WORKER = 2
# Smaller files (LoRAs, VAEs) go to the hasher many per call (HashMany, several per slot it has): read in
# well under a progress interval, they need no progress stream, and a call of their own costs the gateway
# and the hasher more CPU than their reading (README, Benchmark notes).
SMALL_BELOW_BYTES = 64 * 1024 * 1024
# Calls of small files in flight: while the hasher answers one, the other keeps its workers busy.
SMALL_CALLS = 2
# Small files per hasher slot in a call, and bytes: a call (and its promotion) costs more than a file in it,
# and its files are answered together (about 0.2 s of hashing per call here; seconds on a spinning disk).
SMALL_FILES_PER_SLOT = 4
SMALL_BYTES_PER_SLOT = 128 * 1024 * 1024
# What one HashMany call may carry (hasher.proto).
MAX_HASH_MANY = 1000
SHADOW_PATTERN = "shadow_*.safetensors"


@dataclass
class QueueReport:
    hashed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    hashed_count: int = 0
    error_count: int = 0
    # Every pending row under the folder after the run, whoever holds it: of those, the rows another job
    # holds a lease on right now (a dead gateway's too, until its job is found dead), and the rows set aside
    # after a failure (tried again after RETRY_AFTER_S). The others wait for a worker.
    remaining: int = 0
    leased_elsewhere: int = 0
    set_aside: int = 0
    # Files that changed while they were read (still being written): back in the queue until they stand still.
    changed_while_read: int = 0


@dataclass(frozen=True)
class QueueServices:
    pool: asyncpg.Pool
    hasher: HasherClient
    promotions: Promotions
    lease_s: float
    dev: bool
    # How long a file that changed while it was read waits before a job takes it again.
    settle_s: float = 0.0


def folder_prefix(folder: str) -> str:
    return "" if not folder else folder.rstrip("/") + "/"


async def hash_pending(
    services: QueueServices, job_id: int, limit: int, on_progress: Progress, folder: str = ""
) -> QueueReport:
    """Hash and promote up to `limit` pending models under folder (all when empty), oldest first."""
    run = _QueueRun(services, job_id, on_progress, folder_prefix(folder))
    renewer = asyncio.create_task(run.renew_leases())
    try:
        await run.execute(limit)
    except ExceptionGroup as group:
        raise _first(group) from None
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
    async with services.pool.acquire() as conn:
        counts = await queue_queries.count_queue(conn, run.prefix, job_id)
    run.report.remaining, run.report.leased_elsewhere, run.report.set_aside = counts
    return run.report


def _calls(rows: list[Record], most_files: int, most_bytes: int) -> list[list[Record]]:
    """Rows in order, cut into calls of at most most_files rows and most_bytes (a call has at least one row)."""
    calls: list[list[Record]] = []
    size = 0
    for row in rows:
        if not calls or len(calls[-1]) == most_files or size + row["size"] > most_bytes:
            calls.append([])
            size = 0
        calls[-1].append(row)
        size += row["size"]
    return calls


def _first(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


class _QueueRun:
    """One pass over the queue: a feeder that leases rows, a task per file in flight, one promoter."""

    def __init__(self, services: QueueServices, job_id: int, on_progress: Progress, prefix: str) -> None:
        self.services = services
        self.job_id = job_id
        self.prefix = prefix
        self.report = QueueReport()
        self._progress = on_progress
        self._promotable: asyncio.Queue[tuple[Record, HashedFile] | None] = asyncio.Queue(PROMOTE_BATCH * 2)
        self._heavy = asyncio.Semaphore(1)
        self._bytes_finished = 0
        self._bytes_reading: dict[str, int] = {}
        self._bytes_total = 0

    async def execute(self, limit: int) -> None:
        calls = await self.services.hasher.capacity() * CALLS_PER_WORKER
        self._heavy = asyncio.Semaphore(calls)
        async with self.services.pool.acquire() as conn:
            files, self._bytes_total = await queue_queries.work_ahead(conn, limit, self.prefix)
        await self._progress(files_total=files, files_done=0, bytes_done=0, bytes_total=self._bytes_total, errors=0)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._promote_all())
            async with asyncio.TaskGroup() as files:
                await self._feed(files, limit, calls)
            await self._promotable.put(None)

    async def _feed(self, files: asyncio.TaskGroup, limit: int, calls: int) -> None:
        """Lease rows a batch at a time and start them, never more than `calls` calls at once (and the
        dev-mode shadow calls): shadow and small files many per call, the others one per call."""
        room = asyncio.Semaphore(calls + (LIGHT_CALLS if self.services.dev else 0))
        small_calls = asyncio.Semaphore(SMALL_CALLS)
        per_call = min(calls * SMALL_FILES_PER_SLOT, MAX_HASH_MANY)
        batch = LIGHT_BATCH * LIGHT_CALLS if self.services.dev else per_call * SMALL_CALLS
        claimed = 0
        while claimed < limit:
            async with self.services.pool.acquire() as conn:
                rows = await queue_queries.claim_batch(
                    conn, self.job_id, min(batch, limit - claimed), self.services.lease_s, self.prefix)
            if not rows:
                return
            claimed += len(rows)
            light, small, single = self._sort_out(rows)
            for start in range(0, len(light), LIGHT_BATCH):
                await room.acquire()
                files.create_task(self._many(light[start:start + LIGHT_BATCH], room))
            for call in _calls(small, per_call, calls * SMALL_BYTES_PER_SLOT):
                await small_calls.acquire()
                await room.acquire()
                files.create_task(self._many(call, room, small_calls))
            for row in single:
                await room.acquire()
                files.create_task(self._one(row, room))

    def _sort_out(self, rows: list[Record]) -> tuple[list[Record], list[Record], list[Record]]:
        """(dev-mode shadow files, which the hasher answers without a read; small files; the others)."""
        light: list[Record] = []
        small: list[Record] = []
        single: list[Record] = []
        for row in rows:
            if self.services.dev and fnmatchcase(PurePosixPath(row["path"]).name, SHADOW_PATTERN):
                light.append(row)
            elif row["size"] is not None and row["size"] < SMALL_BELOW_BYTES:
                small.append(row)
            else:
                single.append(row)
        return light, small, single

    async def renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.services.lease_s / 3)
            async with self.services.pool.acquire() as conn:
                await queue_queries.renew_leases(conn, self.job_id, self.services.lease_s)

    async def _one(self, row: Record, room: asyncio.Semaphore) -> None:
        try:
            file = await self._hash(row)
        except FileFailed as exc:
            self._bytes_reading.pop(row["path"], None)
            self._account(row, 0)
            await self._not_hashed(row["path"], exc)
            return
        finally:
            room.release()
        await self._promotable.put((row, file))

    async def _many(self, rows: list[Record], *held: asyncio.Semaphore) -> None:
        await self._progress(current=rows[0]["path"])
        try:
            answers = await self.services.hasher.hash_many([row["path"] for row in rows])
        finally:
            for limit in held:
                limit.release()
        for row, answer in zip(rows, answers, strict=True):
            if isinstance(answer, ServiceDown):
                raise answer
            if isinstance(answer, ServiceFailure):
                self._account(row, 0)
                await self._not_hashed(row["path"], answer)
            else:
                self._account(row, answer.identity.size)
                await self._promotable.put((row, hashed_file(answer)))

    async def _hash(self, row: Record) -> HashedFile:
        path = row["path"]
        async with self._heavy:
            await self._progress(current=path)
            digest = await self.services.hasher.hash(path, on_progress=self._reading(path))
        self._bytes_reading.pop(path, None)
        self._account(row, digest.identity.size)
        return hashed_file(digest)

    def _account(self, row: Record, hashed_bytes: int) -> None:
        """A file is over: the bytes it really had replace those the job expected (0 when it failed)."""
        self._bytes_total += hashed_bytes - (row["size"] or 0)
        self._bytes_finished += hashed_bytes

    def _reading(self, path: str) -> Progress:
        async def on_bytes(**read: Unpack[ProgressFields]) -> None:
            self._bytes_reading[path] = read.get("bytes_done", 0)
            await self._progress(bytes_done=self._bytes_finished + sum(self._bytes_reading.values()),
                                 bytes_total=self._bytes_total)
        return on_bytes

    async def _not_hashed(self, path: str, exc: ServiceFailure) -> None:
        """A file changed while it was read waits to settle (it is being written); any other failure is set aside."""
        if not isinstance(exc, FileChanged):
            await self._set_aside(path, exc)
            return
        async with self.services.pool.acquire() as conn:
            await queue_queries.wait_to_settle(conn, path, self.services.settle_s * GROWING_SETTLE_FACTOR)
        self.report.changed_while_read += 1
        await self._files_progress(path)

    async def _set_aside(self, path: str, exc: ServiceFailure) -> None:
        async with self.services.pool.acquire() as conn:
            await queue_queries.set_aside(conn, path, f"{exc.code}: {exc.message}", RETRY_AFTER_S)
        self.report.error_count += 1
        if len(self.report.errors) < REPORT_LIMIT:
            self.report.errors.append({"path": path, "code": exc.code, "message": exc.message})
        await self._files_progress(path)

    async def _promote_all(self) -> None:
        ended = False
        while not ended:
            batch = await self._next_batch()
            ended = batch[-1] is None
            items = [item for item in batch if item is not None]
            if items:
                await self._promote(items)

    async def _next_batch(self) -> list[tuple[Record, HashedFile] | None]:
        """What finished, waiting up to PROMOTE_LINGER_S for more; the end (None) closes a batch at once."""
        batch = [await self._promotable.get()]
        deadline = asyncio.get_running_loop().time() + PROMOTE_LINGER_S
        try:
            async with asyncio.timeout_at(deadline):
                while len(batch) < PROMOTE_BATCH and batch[-1] is not None:
                    batch.append(await self._promotable.get())
        except TimeoutError:
            pass
        return batch

    async def _promote(self, items: list[tuple[Record, HashedFile]]) -> None:
        await self.services.promotions.promote(items)
        for _, file in items:
            self.report.hashed_count += 1
            if len(self.report.hashed) < REPORT_LIMIT:
                self.report.hashed.append({"path": file.path, "sha256": file.sha256, "cached": False})
            await self._files_progress(file.path)

    async def _files_progress(self, path: str) -> None:
        done = self.report.hashed_count + self.report.error_count
        await self._progress(files_done=done, errors=self.report.error_count, current=path,
                             bytes_done=self._bytes_finished, bytes_total=self._bytes_total)
