"""Verify imported hashes: read each imported file once, and replace every legacy hash that was wrong."""

from __future__ import annotations

from backend.database import legacy_queries, short_hash_queries
from backend.server.adapters.clients import hashed_file
from backend.server.adapters.failures import FileFailed
from backend.server.legacy.report import LegacyServices, VerifyReport
from backend.util.image_keys import active_image_key
from backend.util.progress import Progress


async def verify_imported(services: LegacyServices, folder: str | None = None,
                          on_progress: Progress | None = None) -> VerifyReport:
    """Re-hash, one file at a time (background work: it must not starve the hashing of new files), every
    imported record not verified yet; a wrong hash is replaced by the real one, its preview following it."""
    report = VerifyReport()
    async with services.pool.acquire() as conn:
        rows = await legacy_queries.unverified(conn, folder.rstrip("/") if folder else None)
    for done, row in enumerate(rows, start=1):
        try:
            digest = await services.hasher.hash(row["path"])
        except FileFailed as exc:  # that file's own: the others are verified all the same
            report.errors.append({"path": row["path"], "code": exc.code, "message": exc.message})
        else:
            # The file was read: its short hashes are known now, whatever the legacy hash was worth.
            async with services.pool.acquire() as conn:
                await short_hash_queries.store(conn, [hashed_file(digest)])
            if digest.sha256 == row["sha256"]:
                async with services.pool.acquire() as conn:
                    await legacy_queries.mark_verified(conn, row["path"], digest.sha256)
                report.verified += 1
            else:
                await _fix(services, row, digest.sha256)
                report.wrong.append({"path": row["path"], "legacy_sha256": row["sha256"], "sha256": digest.sha256,
                                     "sources": list(row["sources"])})
        if on_progress is not None:
            await on_progress(files_done=done, files_total=len(rows), current=row["path"])
    return report


async def _fix(services: LegacyServices, row, real: str) -> None:
    """The record gets the real hash; its preview is linked to the real hash's name first, as in promotion."""
    old_key = row["image_key"]
    new_key = None
    if old_key is not None and await services.images.link(old_key, active_image_key(real)):
        new_key = active_image_key(real)
    async with services.pool.acquire() as conn, conn.transaction():
        await legacy_queries.fix_hash(conn, row["path"], row["sha256"], real, new_key)
        await legacy_queries.mark_verified(conn, row["path"], real)
        in_use = old_key is not None and await legacy_queries.image_in_use(conn, old_key)
    # After the commit, and only when no other file of the wrong hash still shows it.
    if old_key is not None and not in_use:
        await services.images.delete(old_key)
