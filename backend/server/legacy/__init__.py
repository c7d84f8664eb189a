"""Legacy migration's use cases: import other tools' hashes and metadata, and verify them later.

The scan can call import_for_paths with the files it found, so that a model copied in with its
`.civitai.info` is catalogued without being read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from backend.database import legacy_queries
from backend.database.conflicts import retried
from backend.server.legacy.apply import apply
from backend.server.legacy.gather import LegacyFile, gather
from backend.server.legacy.plan import count, known_hashes, metadata_rows, plan
from backend.server.legacy.report import ImportReport, LegacyServices, VerifyReport
from backend.server.legacy.verify import verify_imported
from backend.util.progress import Progress

__all__ = ["ImportReport", "LegacyImport", "LegacyServices", "VerifyReport", "import_for_paths", "import_legacy",
           "verify_imported"]


async def import_legacy(services: LegacyServices, *, folder: str = "", a1111_roots: Sequence[str] = (),
                        dry_run: bool = False, verify: bool = False,
                        on_progress: Progress | None = None) -> dict[str, Any]:
    """Import the legacy data under folder (every root when empty) and in the web UIs at a1111_roots."""
    report = ImportReport()
    files = await gather(services.hasher, report, folder=folder, a1111_roots=a1111_roots)
    await _import(services, files, report, dry_run, on_progress)
    body = dataclasses.asdict(report)
    if verify and not dry_run:
        body["verify"] = dataclasses.asdict(await verify_imported(services, folder or None, on_progress))
    return body


class LegacyImport:
    """Legacy migration as the gateway offers it (POST /api/models/import and the "import" job), composed once."""

    def __init__(self, services: LegacyServices) -> None:
        self._services = services

    async def run(self, *, folder: str, a1111_roots: Sequence[str], dry_run: bool, verify: bool,
                  on_progress: Progress | None) -> dict[str, Any]:
        return await import_legacy(self._services, folder=folder, a1111_roots=a1111_roots, dry_run=dry_run,
                                   verify=verify, on_progress=on_progress)


async def import_for_paths(services: LegacyServices, paths: Sequence[str],
                           on_progress: Progress | None = None) -> ImportReport:
    """Import the side-car data of these model files only (the new files a scan found)."""
    report = ImportReport()
    if paths:
        files = await gather(services.hasher, report, paths=paths)
        await _import(services, files, report, False, on_progress)
    return report


async def _import(services: LegacyServices, files: list[LegacyFile], report: ImportReport, dry_run: bool,
                  on_progress: Progress | None) -> None:
    async with services.pool.acquire() as conn:
        models, pending = await legacy_queries.catalogue_rows(conn, [f.path for f in files])
    steps = plan(files, models, pending, report)
    count(steps, report)
    rows = metadata_rows(files, known_hashes(steps, models), report)
    async def attempt() -> list[tuple[str, str, str, str]]:
        async with services.pool.acquire() as conn, conn.transaction():
            existing = await legacy_queries.existing_metadata(conn, sorted({row[0] for row in rows}))
            found = legacy_queries.metadata_changes(rows, existing)
            if not dry_run:
                await legacy_queries.write_metadata(conn, found)
            return found

    changes = await retried(attempt, f"importing {len(rows)} metadata fields")
    report.metadata = len(changes)
    if not dry_run:
        await apply(services, steps, report, on_progress)
