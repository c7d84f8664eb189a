"""Run many small jobs a few at a time: the producer waits for a free slot, so work never piles up in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any


class Bounded:
    """At most `limit` jobs at once; `submit` waits for a free slot. Leaving the block waits for every job,
    or cancels them when the block itself failed."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    async def submit(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        await self._slots.acquire()
        if self._failure is not None:
            self._slots.release()
            raise self._failure
        task = asyncio.create_task(self._run(job, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await job(*args)
        except Exception as exc:  # noqa: BLE001 - kept and raised to the producer, not lost in a task
            self._failure = self._failure or exc
        finally:
            self._slots.release()

    async def __aenter__(self) -> Bounded:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            for task in self._tasks:
                task.cancel()
        try:
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for task in self._tasks:
                task.cancel()
        if exc is None and self._failure is not None:
            raise self._failure
