"""One computation per key: concurrent callers share it, and it is cancelled when its last caller leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Job(Protocol):
    task: asyncio.Task


K = TypeVar("K", bound=Hashable)
J = TypeVar("J", bound=Job)


@dataclass
class _Entry(Generic[J]):
    job: J
    waiters: int = 0


class Coalescer(Generic[K, J]):
    """Maps a key to its running job; `started` counts the jobs really started."""

    def __init__(self) -> None:
        self._entries: dict[K, _Entry[J]] = {}
        self.started = 0

    @contextmanager
    def join(self, key: K, start: Callable[[], J]) -> Iterator[J]:
        """Yield the job for key (starting it if none runs); leaving as its last caller cancels it."""
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(start())
            self._entries[key] = entry
            self.started += 1
            entry.job.task.add_done_callback(lambda task: self._done(key, entry, task))
        entry.waiters += 1
        try:
            yield entry.job
        finally:
            entry.waiters -= 1
            if entry.waiters == 0 and not entry.job.task.done():
                # Forgotten at once: a caller arriving now must start afresh, not join a dying job.
                self._forget(key, entry)
                entry.job.task.cancel()

    def job(self, key: K) -> J | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.job

    def waiters(self, key: K) -> int:
        entry = self._entries.get(key)
        return 0 if entry is None else entry.waiters

    def _done(self, key: K, entry: _Entry[J], task: asyncio.Task) -> None:
        self._forget(key, entry)
        # Marks the error as seen even when every caller has left, so asyncio does not log it as lost.
        if not task.cancelled():
            task.exception()

    def _forget(self, key: K, entry: _Entry[J]) -> None:
        if self._entries.get(key) is entry:
            del self._entries[key]
