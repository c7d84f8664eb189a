"""Scan the model roots into the catalogue: unknown model files become pending; known files are not read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from backend.database import db
from backend.server.catalogue import Catalogue, unchanged
from backend.server.clients import HasherClient
from backend.server.errors import ApiError

log = logging.getLogger(__name__)

FileProgress = Callable[[int, int, str], Awaitable[None]]
# Registrations at once: each may compress a preview, and the image service has one worker per core.
SCAN_CONCURRENCY = 8
# Lists in reports stop here: a library of 70,000 files must not give a 70,000-line answer.
REPORT_LIMIT = 100


@dataclass
class ScanReport:
    found: int = 0
    registered: int = 0
    already_pending: int = 0
    unchanged: int = 0
    recognised: int = 0
    changed: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def add_error(self, path: str, exc: ApiError) -> None:
        if len(self.errors) < REPORT_LIMIT:
            self.errors.append({"path": path, "code": exc.code, "message": exc.message})


async def scan(
    pool: asyncpg.Pool, hasher: HasherClient, catalogue: Catalogue, folder: str, on_progress: FileProgress | None
) -> ScanReport:
    """Register every model file the catalogue does not know as pending, with its side-car preview.

    Known files are not read: unchanged ones are counted, changed ones listed (hash them to refresh),
    and a file whose inode the catalogue knows under another path (a move, a hard link) is recorded
    at once from that record.
    """
    found = await hasher.list_models(folder)
    async with pool.acquire() as conn:
        models, pending = await db.catalogue_snapshot(conn)
    by_path = {row["path"]: row for row in models}
    by_inode = {(int(row["device"]), int(row["inode"]), row["size"], row["mtime_ns"]) for row in models}
    report = ScanReport(found=len(found))
    todo = []
    for entry in found:
        ident = entry.identity
        path = ident.resolved_path
        row = by_path.get(path)
        if row is not None:
            if unchanged(row, ident):
                report.unchanged += 1
            elif len(report.changed) < REPORT_LIMIT:
                report.changed.append(path)
        elif path in pending:
            report.already_pending += 1
        else:
            todo.append((entry, (ident.device, ident.inode, ident.size, ident.mtime_ns) in by_inode))

    done = 0
    limit = asyncio.Semaphore(SCAN_CONCURRENCY)

    async def add(entry, known_inode: bool) -> None:
        nonlocal done
        path = entry.identity.resolved_path
        async with limit:
            try:
                if known_inode:
                    await catalogue.sha256(path, pending_status="pending")  # no read: the record follows
                    report.recognised += 1
                else:
                    await _register(catalogue, path, entry.preview_path or None, report)
            except ApiError as exc:
                report.add_error(path, exc)
        done += 1
        if on_progress is not None:
            await on_progress(done, len(todo), path)

    await asyncio.gather(*(add(entry, known) for entry, known in todo))
    return report


async def _register(catalogue: Catalogue, path: str, preview: str | None, report: ScanReport) -> None:
    try:
        await catalogue.register_pending(path, preview)
    except ApiError as exc:
        if preview is None or exc.status >= 500:
            raise
        # A broken side-car image must not keep its model out of the catalogue.
        report.add_error(preview, exc)
        await catalogue.register_pending(path, None)
    report.registered += 1


