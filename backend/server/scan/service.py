"""Scan the model roots into the catalogue: unknown model files become pending; known files are not read.

The hasher streams what it finds a batch at a time; each batch is compared with the catalogue and its new
files inserted in one transaction, and only then are side-car previews compressed, a few at a time. The
gateway holds one batch, never the library: a 100,000-file scan is a few hundred transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath

import asyncpg

from backend.database import scan_queries
from backend.database.scan_queries import FileColumns, NewRows, PreviewColumns
from backend.server.adapters.failures import ServiceFailure
from backend.server.catalogue.service import Catalogue, PendingPolicy
from backend.server.http.errors import ApiError
from backend.server.legacy import LegacyServices, import_for_paths
from backend.server.scan.missing import find_missing
from backend.server.scan.report import REPORT_LIMIT, ScanReport
from backend.util.bounded import Bounded
from backend.util.config import GROWING_SETTLE_FACTOR
from backend.util.image_keys import pending_image_key
from backend.util.progress import Progress
from modelvault.hasher.v1 import hasher_pb2

log = logging.getLogger(__name__)

# Previews compressed (and moved files recognised) at once: the image service has one worker per core,
# and it does not say how many it has, so this covers a machine of a few cores without flooding it.
FOLLOW_UP_CONCURRENCY = 4


async def scan(
    services: LegacyServices, folder: str, on_progress: Progress | None, *, prune: bool = False,
    settle_s: float = 0.0,
) -> ScanReport:
    """Register every model file the catalogue does not know as pending, with its side-car preview.

    Known files are not read: unchanged ones are counted, changed ones go back to the queue (their records
    marked changed until hashed again), and a file whose inode the catalogue knows under another path (a move,
    a hard link) is recorded at once from that record. A new or changed file is hashed only once it has stood
    still for settle_s. Pending records under the scanned folders whose file is gone are removed; active ones
    are reported as missing, and with prune removed (with their previews, unless another file shows the same).
    """
    report = ScanReport()
    with_sidecars: list[str] = []  # new files beside another tool's side-car, imported after the walk
    async with services.pool.acquire() as conn:
        await scan_queries.begin(conn)
        try:
            async with Bounded(FOLLOW_UP_CONCURRENCY) as follow_up:
                scope = await _walk(conn, services, folder, report, follow_up, on_progress, with_sidecars, settle_s)
            await find_missing(conn, services.hasher, services.images, scope, report, prune=prune)
        finally:
            await _end(conn)
    await _import_sidecars(services, with_sidecars, report)
    await services.catalogue.previews.forget_vanished()
    if on_progress is not None:
        await on_progress(files_done=report.found, files_total=report.found, current="")
    return report


async def _end(conn: asyncpg.Connection) -> None:
    """Leave the connection clean; after a cancelled query it may refuse, and the pool then discards it."""
    try:
        await scan_queries.end(conn)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("could not drop the scan's temporary tables: %s", exc)


async def _walk(
    conn: asyncpg.Connection, services: LegacyServices, folder: str, report: ScanReport,
    follow_up: Bounded, on_progress: Progress | None, with_sidecars: list[str], settle_s: float,
) -> list[str]:
    """Take in what the hasher finds, batch by batch; returns the folders it walked."""
    scope: list[str] = []
    async for reply in services.hasher.list_models(folder):
        scope = scope or list(reply.scope)
        for unlisted in reply.unlisted:
            report.add_error(unlisted.path, "invalid_file_name", unlisted.reason)
        if not reply.models.resolved_path:
            continue
        await _take_batch(conn, services, reply.models, report, follow_up, with_sidecars, settle_s)
        if on_progress is not None:
            await on_progress(files_done=report.found, files_total=0, current=reply.models.resolved_path[-1])
    return scope


async def _take_batch(
    conn: asyncpg.Connection, services: LegacyServices, models: hasher_pb2.FoundModels, report: ScanReport,
    follow_up: Bounded, with_sidecars: list[str], settle_s: float,
) -> None:
    files, previews = FileColumns.of(models), PreviewColumns.of(models)
    kinds = await scan_queries.classify(conn, files, previews)
    inserted: dict[str, str] = {}
    async with conn.transaction():  # the batch's rows: one transaction
        if new := _of_kind(files, kinds, "new"):
            inserted = await _insert_new(conn, new, report, settle_s)
        if changed := _of_kind(files, kinds, "changed"):
            await _insert_new(conn, changed, report, settle_s, changed=True)
        if growing := _of_kind(files, kinds, "growing"):
            await scan_queries.note_growth(conn, growing, settle_s * GROWING_SETTLE_FACTOR)
    report.found += len(kinds)
    for path, kind, *preview in zip(files.paths, kinds, *previews, strict=True):
        if kind == "unchanged":
            report.unchanged += 1
        elif kind == "preview":
            report.unchanged += 1
            await follow_up.submit(_follow_sidecar, services.catalogue.previews.follow_sidecar, path, *preview, report)
        elif kind in ("changed", "requeued"):
            report.add_changed(path)
        elif kind == "pending_preview":
            report.already_pending += 1
            await follow_up.submit(_follow_sidecar, services.catalogue.previews.follow_pending_sidecar, path, *preview,
                                   report)
        elif kind in ("pending", "growing"):
            report.already_pending += 1
            report.growing += kind == "growing"
        elif kind == "recognised":
            await follow_up.submit(_recognise, services.catalogue, path, report)
        elif path in inserted and preview[0]:
            await follow_up.submit(_compress_preview, services, path, *preview, inserted[path], report)
    with_sidecars += [path for path, has in zip(files.paths, models.has_sidecar, strict=True)
                             if has and path in inserted]


async def _import_sidecars(services: LegacyServices, paths: list[str], report: ScanReport) -> None:
    """New files that came with another tool's side-car: its hash, when the disk confirms it, promotes them
    at once (after their previews exist, which the promotion renames); the others stay pending."""
    if not paths:
        return
    imported = await import_for_paths(services, paths)
    report.imported = imported.trusted
    for skipped in imported.skipped[:REPORT_LIMIT - len(report.errors)]:
        report.add_error(skipped["path"], "legacy_" + skipped["source"], skipped["reason"])


def _image_key(path: str, *, suffixed: bool = False) -> str:
    return pending_image_key(PurePosixPath(path).stem, path, suffixed=suffixed)


def _of_kind(files: FileColumns, kinds: list[str], wanted: str) -> FileColumns | None:
    """The batch's files of one kind, as columns; None when there are none."""
    chosen = [i for i, kind in enumerate(kinds) if kind == wanted]
    return FileColumns(*([column[i] for i in chosen] for column in files)) if chosen else None


async def _insert_new(conn: asyncpg.Connection, files: FileColumns, report: ScanReport, settle_s: float, *,
                      changed: bool = False) -> dict[str, str]:
    """Insert pending rows for new paths, or for changed active ones; returns path -> preview key of the rows
    inserted. A name whose preview key is taken (the same file name in two folders) gets a suffixed key.
    """
    keys = {path: _image_key(path) for path in files.paths}
    inserted = await _insert(conn, keys, files, settle_s, changed)
    left = [path for path in files.paths if path not in inserted]
    if left:
        already = await scan_queries.pending_paths(conn, left)  # registered by a request a moment ago
        if not changed:
            report.already_pending += len(already)
        retry = {path: _image_key(path, suffixed=True) for path in left if path not in already}
        suffixed = await _insert(conn, retry, files, settle_s, changed)
        for path in retry.keys() - suffixed:
            report.add_error(path, "conflict", f"no free preview name for {path!r}")
        inserted |= suffixed
        keys.update(retry)
    if not changed:
        report.registered += len(inserted)
    return {path: keys[path] for path in inserted}


async def _insert(conn: asyncpg.Connection, keys: dict[str, str], files: FileColumns, settle_s: float,
                  changed: bool) -> set[str]:
    if not keys:
        return set()
    index = {path: i for i, path in enumerate(files.paths)}
    chosen = [index[path] for path in keys]
    rows = NewRows(list(keys), [PurePosixPath(p).stem for p in keys], list(keys.values()),
                   [files.sizes[i] for i in chosen], [files.mtimes_ns[i] for i in chosen])
    return await scan_queries.insert_pending(conn, rows, settle_s, changed=changed)


async def _recognise(catalogue: Catalogue, path: str, report: ScanReport) -> None:
    try:
        await catalogue.hash_model(path, pending=PendingPolicy.PROMOTE)  # no read: the record follows its inode
    except (ApiError, ServiceFailure) as exc:
        report.add_error(path, exc.code, exc.message)
        return
    report.recognised += 1


async def _compress_preview(services: LegacyServices, path: str, preview: str, size: int, mtime_ns: int,
                            image_key: str, report: ScanReport) -> None:
    """After the row exists: a broken side-car image is reported and never keeps its model out. Only a picture
    that compressed is noted as the preview's source, so one that failed is tried again by the next scan."""
    try:
        await services.images.compress_file(preview, image_key)
    except ServiceFailure as exc:
        report.add_error(preview, exc.code, exc.message)
        return
    await services.catalogue.previews.note_sidecar(path, preview, size, mtime_ns)


async def _follow_sidecar(follow: Callable[[str, str | None, int, int], Awaitable[int]], path: str, preview: str,
                          size: int, mtime_ns: int, report: ScanReport) -> None:
    """A file's side-car picture was added, replaced or removed: its preview (pending or active) follows."""
    try:
        changed = await follow(path, preview or None, size, mtime_ns)
    except ServiceFailure as exc:
        report.add_error(preview or path, exc.code, exc.message)
        return
    report.previews_changed += changed
