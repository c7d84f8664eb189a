"""Hash the pending queue: lease rows oldest first, hash and promote each; safe with several gateways at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from backend.database import db
from backend.server.catalogue import Catalogue
from backend.server.errors import ApiError
from backend.server.scan import FileProgress

# A failed file waits this long before a batch tries it again.
RETRY_AFTER_S = 600.0


@dataclass
class QueueReport:
    hashed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    remaining: int = 0


async def hash_pending(
    pool: asyncpg.Pool, catalogue: Catalogue, limit: int, lease_s: float, on_progress: FileProgress | None
) -> QueueReport:
    """Hash up to `limit` pending models, oldest first, promoting each; safe with several gateways at once."""
    report = QueueReport()
    async with pool.acquire() as conn:
        total = min(limit, await db.count_claimable(conn))
    for done in range(1, total + 1):
        async with pool.acquire() as conn:
            claimed = await db.claim_pending(conn, lease_s)
        if claimed is None:
            break
        path = claimed["path"]
        try:
            outcome = await catalogue.sha256(path, pending_status="pending")
            report.hashed.append({"path": path, "sha256": outcome.sha256, "cached": outcome.cached})
        except ApiError as exc:
            if exc.status >= 500:
                # A service down is not the file's fault: give the row back and stop the batch.
                async with pool.acquire() as conn:
                    await db.fail_pending(conn, path, exc.message, retry_after_s=0)
                raise
            async with pool.acquire() as conn:
                await db.fail_pending(conn, path, f"{exc.code}: {exc.message}", RETRY_AFTER_S)
            report.errors.append({"path": path, "code": exc.code, "message": exc.message})
        if on_progress is not None:
            await on_progress(done, total, path)
    async with pool.acquire() as conn:
        report.remaining = await db.count_claimable(conn)
    return report
