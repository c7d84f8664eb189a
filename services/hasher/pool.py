"""The process pool that hashes files: one file per worker, cancellable, with progress read from shared memory."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing

from backend.util.file_identity import FileIdentity
from services.hasher.disks import DiskReaders
from services.hasher.errors import FileChangedError, HashCancelledError
from services.hasher.short_hashes import Digests
from services.hasher.slots import SlotTable
from services.hasher.workers import HashWorkers
from services.process_pool import PoolClosedError, WorkerDiedError

log = logging.getLogger(__name__)

# Files handed to each worker at once: one being hashed and the next one already in its socket, which it takes
# as soon as it is done. Handing it over only then left the worker idle between files for a sizeable part of
# a LoRA's hashing time (README, Benchmark notes).
QUEUED_PER_WORKER = 2


class HashJob:
    """One file being hashed: a task that ends with its digests, and how far the worker has got."""

    def __init__(self, pool: HashPool, path: str, identity: FileIdentity) -> None:
        self._pool = pool
        self._slots = pool.slots
        self.slot: int | None = None
        self._final_bytes = 0
        self.task: asyncio.Task[Digests] = asyncio.create_task(pool.run(self, path, identity))

    @property
    def bytes_done(self) -> int:
        slot = self.slot
        return self._final_bytes if slot is None else self._slots.bytes_done(slot)

    def finished(self, slot: int) -> None:
        """Called once the worker has let go of the slot: keep its last count, then give the slot back."""
        self._final_bytes = self._slots.bytes_done(slot)
        self._pool.bytes_read += self._final_bytes
        self._pool.files_in_pool -= 1
        if self.slot == slot:  # not a retry's newer slot
            self.slot = None
        self._slots.release(slot)


class HashPool:
    """The shared process pool, fed one job per free slot; a job waiting for a slot is cancelled for free."""

    def __init__(self, workers: int, disks: DiskReaders, autov3_max_bytes: int = -1) -> None:
        self._disks = disks
        self.slots = SlotTable(multiprocessing.get_context("spawn"), workers * QUEUED_PER_WORKER)
        self._workers = HashWorkers(workers, QUEUED_PER_WORKER, self.slots.cancel_flags, self.slots.progress,
                                    autov3_max_bytes)
        self._closed = False
        # Observable counters: how often the pool really started or abandoned a file.
        self.submissions = 0
        self.cancellations = 0
        # Bytes of model files the workers really read (finished or abandoned), for tests and operators.
        self.bytes_read = 0
        # Files handed to the workers (read or queued there) now, and the most there ever were.
        self.files_in_pool = 0
        self.most_files_in_pool = 0

    def warm_up(self) -> None:
        self._workers.start()

    def start(self, path: str, identity: FileIdentity) -> HashJob:
        """Queue a file as checked; the job's task resolves to its Digests or raises an errors.* exception."""
        return HashJob(self, path, identity)

    async def run(self, job: HashJob, path: str, identity: FileIdentity) -> Digests:
        """The body of job.task: one reader at a time on a spinning disk, then _read."""
        async with self._disks.reading(identity.device):
            return await self._read(job, path, identity)

    async def _read(self, job: HashJob, path: str, identity: FileIdentity) -> Digests:
        """Hash through a memory mapping, once more with read() if the worker died."""
        try:
            return await self._attempt(job, path, identity, mapped=True)
        except WorkerDiedError:
            # A mapped file that shrank, or whose disk failed, kills its worker with SIGBUS, and the files
            # handed to that worker lose it. Each tries once more with read(), which cannot kill: the
            # culprit now gets its own error (changed, unreadable), the other its digests.
            log.warning("a worker died while hashing %s; trying it once more, with read()", path)
        try:
            return await self._attempt(job, path, identity, mapped=False)
        except FileChangedError:
            # Found changed on the second try: it changed while the first one read it.
            raise FileChangedError(f"file changed while hashing: {path!r}") from None

    async def _attempt(self, job: HashJob, path: str, identity: FileIdentity, *, mapped: bool) -> Digests:
        """Wait for a slot, run hash_file in a worker, and stop it if cancelled."""
        if self._closed:
            raise PoolClosedError("the hasher is shutting down")
        # Beyond QUEUED_PER_WORKER per worker, jobs wait here for a slot, where a cancel costs nothing.
        slot = await self.slots.acquire()
        try:
            # The slot is reused only when the worker is really done with it, which may be after our task ends.
            task = self._workers.submit(path, slot, identity, mapped=mapped, released=lambda: job.finished(slot))
        except BaseException:
            self.slots.release(slot)
            raise
        self.submissions += 1
        self.files_in_pool += 1
        self.most_files_in_pool = max(self.most_files_in_pool, self.files_in_pool)
        job.slot = slot
        try:
            digests, seconds = await task.result
        except asyncio.CancelledError:
            self.slots.cancel(slot)
            self._workers.withdraw(task)
            self.cancellations += 1
            raise
        except HashCancelledError:
            raise PoolClosedError("the hasher is shutting down") from None
        # One line per computed digest: operators see which file took its worker how long.
        log.info("hashed %s (%d bytes, %.2f s, %.2f GB/s)", path, identity.size, seconds,
                 identity.size / seconds / 1e9 if seconds > 0 else 0.0)
        return digests

    def worker_pids(self) -> list[int]:
        return self._workers.worker_pids()

    def close(self) -> None:
        """Stop every running worker at its next block, drop queued work, and wait for the processes to exit."""
        if self._closed:
            return
        self._closed = True
        self.slots.cancel_all()
        self._workers.close()


