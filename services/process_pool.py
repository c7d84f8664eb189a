"""A spawn-context process pool that replaces itself when a worker dies, shared by both services."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerDiedError(Exception):
    """A worker process died (killed, out of memory, a native crash); the pool was replaced."""


class PoolClosedError(Exception):
    """Work was submitted after shutdown(): the service is stopping."""


class ProcessPool:
    """Workers are spawned, never forked: gRPC's threads and locks do not survive fork once a server exists.

    A broken stdlib pool refuses every later job, so one dead worker would take the service down; this one
    starts a fresh pool instead and reports the lost job as WorkerDiedError.
    """

    def __init__(
        self,
        name: str,
        workers: int,
        initializer: Callable[..., None],
        initargs: tuple = (),
        warm_up_job: Callable[[], object] | None = None,
    ) -> None:
        self._name = name
        self.workers = workers
        self._warm_up_job = warm_up_job
        self._new = lambda: ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=initializer,
            initargs=initargs,
        )
        self._executor = self._new()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue fn(*args) in a worker; await the future with result()."""
        try:
            return self._executor.submit(fn, *args)
        except BrokenProcessPool:
            self._replace_if_broken()
            raise WorkerDiedError(f"a {self._name} worker died; the pool was restarted, retry") from None
        except RuntimeError:
            # submit() after shutdown: the service stopped while this job waited its turn.
            raise PoolClosedError(f"the {self._name} service is shutting down") from None

    async def result(self, future: Future[T]) -> T:
        """The job's result; a worker that died under it raises WorkerDiedError (the pool is already new)."""
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace_if_broken()
            raise WorkerDiedError(f"a {self._name} worker died while working; the pool was restarted") from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.result(self.submit(fn, *args))

    def warm_up(self) -> None:
        """Start every worker now, so that the first requests do not pay for starting Python processes."""
        if self._warm_up_job is not None:
            for _ in range(self.workers):
                self._executor.submit(self._warm_up_job)

    def worker_pids(self) -> list[int]:
        """The worker processes now running (for operators and tests); the stdlib keeps them by pid."""
        return list(self._executor._processes or ())

    def shutdown(self) -> None:
        """Drop queued work and wait for the worker processes to exit."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _replace_if_broken(self) -> None:
        # Only the pool now in use, and only once: several jobs may see the same dead worker.
        broken = self._executor
        if broken._broken and not self._closed:
            log.warning("a %s worker died; starting a new pool", self._name)
            self._executor = self._new()
            self.warm_up()
            broken.shutdown(wait=False, cancel_futures=True)
