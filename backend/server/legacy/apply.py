"""Carry out the import's steps: trusted hashes become active records through reactive migration's promotion."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from backend.database import db, legacy_queries
from backend.database.migration.promotion import promote
from backend.server.adapters.failures import FileFailed, ServiceFailure
from backend.server.http.errors import ApiError
from backend.server.legacy.plan import CREATE, PROMOTE, REFRESH, REGISTER, TRUSTING, Step
from backend.server.legacy.report import ImportReport, LegacyServices
from backend.util.progress import Progress

# Steps at once: each may compress a preview, and the image service has one worker per core.
CONCURRENCY = 8
# New records without a preview are written this many per transaction.
BATCH = 500


async def apply(services: LegacyServices, steps: Sequence[Step], report: ImportReport,
                on_progress: Progress | None) -> None:
    """Run every step; a file that fails is reported and the others go on, unless a service is down."""
    # A trusted file without a preview has nothing to promote: its row is written in bulk at the end.
    bulk = [s for s in steps if s.action == CREATE and not s.file.entry.preview_path]
    one_by_one = iter([s for s in steps if not (s.action == CREATE and not s.file.entry.preview_path)])
    done = 0

    async def worker() -> None:
        nonlocal done
        for step in one_by_one:
            try:
                await _apply_one(services, step, report)
            except (FileFailed, ApiError) as exc:  # that file's own, or the catalogue's refusal of it
                report.skip(step.file.path, "import", exc.message)
                report.trusted -= step.action in TRUSTING
                report.pending -= step.action == REGISTER
            done += 1
            if on_progress is not None:
                await on_progress(files_done=done, files_total=len(steps), current=step.file.path)

    # A TaskGroup, so that a service going down stops every worker, not just the one that saw it.
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(CONCURRENCY):
                group.create_task(worker())
    except* ServiceFailure as failed:
        raise failed.exceptions[0] from None
    for start in range(0, len(bulk), BATCH):
        batch = bulk[start:start + BATCH]
        async with services.pool.acquire() as conn, conn.transaction():
            await legacy_queries.insert_models(conn, [_row(step) for step in batch])
            await legacy_queries.mark_legacy(conn, [_mark(step) for step in batch])
        done += len(batch)
        if on_progress is not None:
            await on_progress(files_done=done, files_total=len(steps), current=batch[-1].file.path)


async def _apply_one(services: LegacyServices, step: Step, report: ImportReport) -> None:
    if step.action == REGISTER:
        await _register(services, step, report)
    elif step.action == CREATE:
        row = await _register(services, step, report)
        await promote(services.pool, services.images, row["image_key"], step.hashed())
    elif step.action == PROMOTE:
        assert step.pending_key is not None
        await promote(services.pool, services.images, step.pending_key, step.hashed())
    elif step.action == REFRESH:
        async with services.pool.acquire() as conn:
            await db.upsert_model(conn, step.hashed(), image_key=None)
    if step.action in TRUSTING:
        async with services.pool.acquire() as conn:
            await legacy_queries.mark_legacy(conn, [_mark(step)])


async def _register(services: LegacyServices, step: Step, report: ImportReport):
    """The pending row of the file, its side-car preview compressed to the pending key as the scan does."""
    preview = step.file.entry.preview_path or None
    try:
        row, _ = await services.catalogue.register_pending(step.file.path, preview)
    except FileFailed as exc:
        if preview is None:
            raise
        # A broken side-car picture must not keep its model out of the catalogue.
        report.skip(preview, "preview", exc.message)
        row, _ = await services.catalogue.register_pending(step.file.path, None)
    return row


def _row(step: Step) -> tuple[str, str, int, int, int, int]:
    file = step.hashed()
    return (file.path, file.sha256, *file.identity.values())


def _mark(step: Step) -> tuple[str, str, list[str]]:
    assert step.verdict.sha256 is not None
    return (step.file.path, step.verdict.sha256, sorted(set(step.verdict.sources)))
