"""After a scan: the records under the scanned folders whose file is gone. A pending record is removed at once
(there is nothing to keep: no hash, and a moved file is found again at its new path); an active one is
reported, and pruned when asked (its file may be on a disk that is not mounted right now)."""

from __future__ import annotations

import asyncpg

from backend.database import scan_queries
from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.adapters.failures import AccessDenied, FileMissing, ServiceFailure
from backend.server.scan.report import ScanReport
from backend.util.bounded import Bounded

# Records confirmed (and pruned) per round; each round is one transaction when pruning.
PAGE = 500
# Stat and Delete calls at once.
CONCURRENCY = 8


async def find_missing(
    conn: asyncpg.Connection, hasher: HasherClient, images: ImagesClient, scope: list[str], report: ScanReport,
    *, prune: bool,
) -> None:
    """Records the scan did not meet are confirmed gone by a stat (the walk skips hidden folders, and a
    file may be there through a path it does not take); only what is really gone counts as missing."""
    if not scope or await scan_queries.collect_unseen(conn, scope) == 0:
        return
    after = ""
    while page := await scan_queries.unseen_page(conn, after, PAGE):
        after = page[-1]["path"]
        gone = await _confirm_gone(hasher, page, report)
        active = [row["path"] for row in gone if not row["pending"]]
        pending = [row["path"] for row in gone if row["pending"]]
        for path in active:
            report.add_missing(path)
        report.pending_removed += len(pending)
        if not prune:
            active = []
        if active or pending:
            async with conn.transaction():
                pruned, orphan_keys = await scan_queries.prune(conn, active, pending)
            report.pruned += pruned - len(pending)
            # After the commit: a preview is deleted only once no record can show it.
            await _delete_previews(images, orphan_keys, report)


async def _confirm_gone(hasher: HasherClient, rows: list[asyncpg.Record], report: ScanReport) -> list[asyncpg.Record]:
    gone: list[asyncpg.Record] = []

    async def check(row: asyncpg.Record) -> None:
        try:
            await hasher.stat(row["path"])
        except (FileMissing, AccessDenied):  # gone, or no longer a file we may manage
            gone.append(row)
        except ServiceFailure as exc:
            report.add_error(row["path"], exc.code, exc.message)

    async with Bounded(CONCURRENCY) as calls:
        for row in rows:
            await calls.submit(check, row)
    return sorted(gone, key=lambda row: row["path"])


async def _delete_previews(images: ImagesClient, keys: list[str], report: ScanReport) -> None:
    async def delete(key: str) -> None:
        try:
            await images.delete(key)
        except ServiceFailure as exc:  # the start-up sweep removes what is left behind
            report.add_error(key, exc.code, exc.message)

    async with Bounded(CONCURRENCY) as calls:
        for key in keys:
            await calls.submit(delete, key)
