"""On by default: scan the roots at start and hash what is new, then watch the roots, with a periodic rescan.

Files in motion are the normal case. A burst of changes (a 7 GB copy is thousands of events) becomes one scan
once its folders have been quiet for the settling time; a file the scan finds still settling is hashed by a
job at the moment it may be. A root that disappears is watched again when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import watchfiles
from aiohttp import web

from backend.database import jobs_queries, queue_queries
from backend.server import keys
from backend.server.jobs.kinds import MAX_LIMIT
from backend.server.jobs.runner import JobRunner
from backend.util.model_files import PREVIEW_SUFFIXES, is_model_file

log = logging.getLogger(__name__)

# The watcher hands over what changed at most this often; the scan waits for the burst to be quiet.
DEBOUNCE_MS = 500
# A burst of changes is scanned this long after its first change at the latest, quiet or not: other files
# copied beside a long copy appear as pending meanwhile (the long one waits to settle).
MAX_BURST_S = 60.0
# How often the watcher checks that each root is still the folder it watches, or has come back.
ROOT_CHECK_S = 1.0
# After the watcher itself failed (out of inotify watches): the next try.
WATCH_RETRY_S = 30.0
# A job started this much after the moment a settling file may be taken finds it settled.
_SETTLED_MARGIN_S = 0.05
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
    return outermost(str(f) for f in folders)


def outermost(folders: Iterable[str]) -> list[str]:
    """The folders none of the others contains; "" (every root) contains them all."""
    given = set(folders)
    if "" in given:
        return [""]
    chosen = {Path(f) for f in given}
    return sorted(str(f) for f in chosen if not any(other in f.parents for other in chosen))


class _Burst:
    """The folders changed since their last scan, and when the first and the last change came."""

    def __init__(self) -> None:
        self.folders: set[str] = set()
        self._first = self._last = 0.0

    def add(self, folders: Iterable[str], now: float) -> None:
        if not self.folders:
            self._first = now
        self.folders.update(folders)
        self._last = now

    def due_at(self, quiet_s: float) -> float | None:
        """When to scan: once quiet for quiet_s, or MAX_BURST_S after the first change; None with no change."""
        return min(self._last + quiet_s, self._first + MAX_BURST_S) if self.folders else None

    def take(self) -> list[str]:
        folders, self.folders = outermost(self.folders), set()
        return folders


def _root_identities(roots: tuple[Path, ...]) -> dict[Path, tuple[int, int] | None]:
    """Each root's (device, inode) while it is a folder: a root deleted and made again is another folder."""
    identities: dict[Path, tuple[int, int] | None] = {}
    for root in roots:
        try:
            st = os.stat(root)
        except OSError:
            identities[root] = None
            continue
        identities[root] = (st.st_dev, st.st_ino) if Path(root).is_dir() else None
    return identities


class AutoScan:
    """Runs scan then hash jobs, one refresh at a time: at start, for each quiet burst of changes, when a
    settling file may be hashed, and each period."""

    def __init__(self, runner: JobRunner, pool, roots: tuple[Path, ...], interval_s: float, settle_s: float) -> None:
        self._runner = runner
        self._pool = pool
        self._roots = roots
        self._interval_s = interval_s
        self._settle_s = settle_s
        self._lock = asyncio.Lock()
        self._burst = _Burst()
        self._woken = asyncio.Event()

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch())
        loop = asyncio.get_running_loop()
        rescan_at = loop.time()  # at start: every root
        settled_at: float | None = None  # when the next file still settling may be hashed
        started = False
        try:
            while True:
                self._woken.clear()  # before looking: a change from now on wakes the wait below
                now = loop.time()
                burst_at = self._burst.due_at(self._settle_s)
                if now >= rescan_at:
                    self._burst.take()  # a scan of every root covers them
                    # "": every root, in one scan; the first is the start-up's, the next ones the period's.
                    settled_at = await self.refresh([""], "watcher" if started else "start-up")
                    started, rescan_at = True, loop.time() + self._interval_s
                elif burst_at is not None and now >= burst_at:
                    settled_at = await self.refresh(self._burst.take())
                elif settled_at is not None and now >= settled_at:
                    settled_at = await self.refresh([])
                else:
                    wake = min(moment for moment in (rescan_at, burst_at, settled_at) if moment is not None)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(wake):
                            await self._woken.wait()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def _changed(self, folders: Iterable[str]) -> None:
        self._burst.add(folders, asyncio.get_running_loop().time())
        self._woken.set()

    async def _watch(self) -> None:
        """Hand each batch of changes to the burst; watch again whenever a root goes away or comes back."""
        known = _root_identities(self._roots)
        for root in (root for root, identity in known.items() if identity is None):
            log.warning("model root %s does not exist; it is watched from the moment it does", root)
        while True:
            present = [root for root, identity in known.items() if identity is not None]
            if present:
                await self._watch_until_roots_change(present, known)
            else:
                await asyncio.sleep(ROOT_CHECK_S)
            now = _root_identities(self._roots)
            for root in self._roots:
                if now[root] == known[root]:
                    continue
                if now[root] is None:
                    log.warning("model root %s disappeared; it is watched again when it comes back", root)
                else:
                    log.info("model root %s is there (again): scanning and watching it", root)
                    self._changed([str(root)])
            known = now

    async def _watch_until_roots_change(self, present: list[Path], known: dict[Path, tuple[int, int] | None]
                                        ) -> None:
        try:
            async for changes in watchfiles.awatch(*present, watch_filter=_ModelChanges(), debounce=DEBOUNCE_MS,
                                                   rust_timeout=int(ROOT_CHECK_S * 1000), yield_on_timeout=True):
                if changes:
                    self._changed(affected_folders((path for _, path in changes), self._roots))
                if _root_identities(self._roots) != known:
                    return
        except ExceptionGroup as group:
            # A change the watcher could not report, such as a file whose name is not UTF-8: it stops
            # watching. Its batch of changes is lost, so the roots are scanned whole (which reports such
            # names), and watching starts again.
            log.warning("the watcher of the model roots stopped (%s); scanning the roots and watching again",
                        "; ".join(map(str, group.exceptions)))
            self._changed([""])
        except (OSError, RuntimeError) as exc:  # out of inotify watches, a root that went away meanwhile
            log.warning("cannot watch the model roots (%s); trying again in %.0f s, with the rescan every %.0f s",
                        exc, WATCH_RETRY_S, self._interval_s)
            await asyncio.sleep(WATCH_RETRY_S)

    async def refresh(self, folders: list[str], started_by: str = "watcher") -> float | None:
        """Scan the folders, then hash what waits; returns when (loop time) the next settling file may be hashed."""
        async with self._lock:
            try:
                for folder in folders:
                    await self._job("scan", {"folder": folder}, started_by)
                await self._job("hash", {"folder": "", "limit": MAX_LIMIT}, started_by)
                # Only contents not read yet.
                await self._job("headers", {"folder": "", "refresh": False}, started_by)
                async with self._pool.acquire() as conn:
                    wait = await queue_queries.next_settled_in(conn)
            except Exception as exc:  # noqa: BLE001 - the next change or period tries again
                log.warning("automatic scan failed: %s", exc)
                return None
        return None if wait is None else asyncio.get_running_loop().time() + wait + _SETTLED_MARGIN_S

    async def _job(self, name: str, params: dict[str, Any], started_by: str) -> None:
        """Run one job to its end; when one over the same folder runs already, wait for it first."""
        while True:
            try:
                row = await self._runner.start(name, params, started_by=started_by)
                break
            except jobs_queries.JobRunningError as exc:
                await self._wait_for(exc.job_id)
        task = self._runner.task(row["id"])
        if task is not None:
            outcome = await asyncio.shield(task)
            if outcome.error is not None:
                log.warning("automatic %s job %d: %s", name, row["id"], outcome.error)

    async def _wait_for(self, job_id: int) -> None:
        while True:
            async with self._pool.acquire() as conn:
                row = await jobs_queries.get_job(conn, job_id)
            if row is None or row["state"] not in jobs_queries.LIVE_STATES:
                return
            await asyncio.sleep(_WAIT_POLL_S)


async def auto_scan(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: with MODELVAULT_AUTO_SCAN (the default), keep the catalogue in step with the roots."""
    config = app[keys.CONFIG]
    if not config.jobs.auto_scan:
        yield
        return
    scanner = AutoScan(app[keys.JOB_RUNNER], app[keys.POOL], config.model_roots, config.jobs.rescan_interval_s,
                       config.jobs.settle_s)
    task = asyncio.create_task(scanner.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
