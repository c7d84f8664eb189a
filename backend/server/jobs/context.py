"""What a job's code sees: its parameters and a cheap progress call, written to its row at most 4 times a second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Unpack

import asyncpg

from backend.database import jobs_queries
from backend.util.progress import ProgressFields

# Progress reaches the row (and so every event stream) at most this often.
FLUSH_INTERVAL_S = 0.25

Listener = Callable[[dict[str, Any]], None]


class JobContext:
    """Handed to a job kind's run(ctx); progress() only records, a flusher task writes the row."""

    def __init__(self, job_id: int, params: dict[str, Any], listener: Listener | None = None, kind: str = "") -> None:
        self.job_id = job_id
        self.kind = kind
        self.params = params
        self.fields: dict[str, Any] = {}
        self._listener = listener
        self._dirty = asyncio.Event()
        self._written: asyncio.Future[None] | None = None

    def progress(self, **fields: Any) -> None:
        """Record any of the ProgressFields (files_done, bytes_total, current…); cheap and sync."""
        unknown = set(fields) - set(jobs_queries.PROGRESS_FIELDS)
        if unknown:
            raise TypeError(f"unknown progress fields: {sorted(unknown)}")
        self.fields.update(fields)
        self._dirty.set()
        # A waiting synchronous caller hears every file, as the NDJSON answers always did.
        if self._listener is not None and "files_done" in fields:
            self._listener(dict(self.fields))

    async def on_progress(self, **fields: Unpack[ProgressFields]) -> None:
        """progress() as the Progress that a job kind hands its use case."""
        self.progress(**fields)

    async def flush_forever(self, pool: asyncpg.Pool) -> None:
        """Write what changed, then rest: at most one write per FLUSH_INTERVAL_S."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.flush(pool)
            await asyncio.sleep(FLUSH_INTERVAL_S)

    async def flush(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await jobs_queries.record_progress(conn, self.job_id, self.fields)
        self.wrote()

    def next_write(self) -> asyncio.Future[None]:
        """Done at the row's next write: the job's event feed waits for it instead of reading the row."""
        if self._written is None or self._written.done():
            self._written = asyncio.get_running_loop().create_future()
        return self._written

    def wrote(self) -> None:
        """The row was written (its progress, or its start): whoever waits for that reads it now."""
        if self._written is not None and not self._written.done():
            self._written.set_result(None)
