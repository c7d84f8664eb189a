"""On by default: scan the roots at start and hash what is new, then watch the roots, with a periodic rescan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import watchfiles
from aiohttp import web

from backend.database import jobs_db
from backend.server import keys
from backend.server.jobs.kinds import MAX_LIMIT
from backend.server.jobs.runner import JobRunner
from backend.util.model_files import PREVIEW_SUFFIXES, is_model_file

log = logging.getLogger(__name__)

# Changes are gathered this long before a scan: a copy of a 7 GB file is many events, and one scan.
DEBOUNCE_MS = 1000
# How often to look again whether a job of another caller over the same folder has ended.
_WAIT_POLL_S = 1.0


class _ModelChanges(watchfiles.DefaultFilter):
    """Model files, side-car previews, and folders (no suffix): what can change the catalogue."""

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        suffix = Path(path).suffix.lower()
        relevant = is_model_file(path) or suffix in PREVIEW_SUFFIXES or suffix == ""
        return relevant and super().__call__(change, path)


def affected_folders(paths: Iterable[str], roots: tuple[Path, ...]) -> list[str]:
    """The existing folders to rescan for these changed paths: outermost only, each inside a root."""
    folders: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        folder = path if path.is_dir() else path.parent
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent  # a folder moved away: its parent still is
        if any(folder == root or root in folder.parents for root in roots):
            folders.add(folder)
    outermost = {f for f in folders if not any(other in f.parents for other in folders)}
    return sorted(str(f) for f in outermost)


class AutoScan:
    """Runs scan then hash jobs, one refresh at a time, for the start, each batch of changes and each period."""

    def __init__(self, runner: JobRunner, pool, roots: tuple[Path, ...], interval_s: float) -> None:
        self._runner = runner
        self._pool = pool
        self._roots = roots
        self._interval_s = interval_s
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch())
        try:
            while True:
                await self.refresh([""])  # "": every root, in one scan
                await asyncio.sleep(self._interval_s)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            try:
                async for changes in watchfiles.awatch(*self._roots, watch_filter=_ModelChanges(),
                                                       debounce=DEBOUNCE_MS):
                    folders = affected_folders((path for _, path in changes), self._roots)
                    if folders:
                        await self.refresh(folders)
                return
            except ExceptionGroup as group:
                # A change the watcher could not report, such as a file whose name is not UTF-8: it stops
                # watching. Its batch of changes is lost, so the roots are scanned whole (which reports such
                # names), and watching starts again.
                log.warning("the watcher of the model roots stopped (%s); scanning the roots and watching again",
                            "; ".join(map(str, group.exceptions)))
                await self.refresh([""])
            except (OSError, RuntimeError) as exc:  # out of inotify watches, a root that went away
                log.warning("cannot watch the model roots (%s); relying on the rescan every %.0f s",
                            exc, self._interval_s)
                return

    async def refresh(self, folders: list[str]) -> None:
        async with self._lock:
            try:
                for folder in folders:
                    await self._job("scan", {"folder": folder})
                await self._job("hash", {"folder": "", "limit": MAX_LIMIT})
            except Exception as exc:  # noqa: BLE001 - the next change or period tries again
                log.warning("automatic scan failed: %s", exc)

    async def _job(self, name: str, params: dict[str, Any]) -> None:
        """Run one job to its end; when one over the same folder runs already, wait for it first."""
        while True:
            try:
                row = await self._runner.start(name, params)
                break
            except jobs_db.JobRunningError as exc:
                await self._wait_for(exc.job_id)
        task = self._runner.task(row["id"])
        if task is not None:
            outcome = await asyncio.shield(task)
            if outcome.error is not None:
                log.warning("automatic %s job %d: %s", name, row["id"], outcome.error)

    async def _wait_for(self, job_id: int) -> None:
        while True:
            async with self._pool.acquire() as conn:
                row = await jobs_db.get_job(conn, job_id)
            if row is None or row["state"] not in jobs_db.LIVE_STATES:
                return
            await asyncio.sleep(_WAIT_POLL_S)


async def auto_scan(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: with MODELVAULT_AUTO_SCAN (the default), keep the catalogue in step with the roots."""
    config = app[keys.CONFIG]
    if not config.jobs.auto_scan:
        yield
        return
    scanner = AutoScan(app[keys.JOB_RUNNER], app[keys.POOL], config.model_roots, config.jobs.rescan_interval_s)
    task = asyncio.create_task(scanner.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
