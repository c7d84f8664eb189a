"""The embedded PostgreSQL as the gateway keeps it: started with the app, started again if it dies."""

from __future__ import annotations

import asyncio
import logging

from backend.database.embedded import EmbeddedPostgres, EmbeddedPostgresError

__all__ = ["EmbeddedPostgres", "restart_when_gone"]

log = logging.getLogger(__name__)

# How soon a killed embedded PostgreSQL is started again (the pool reconnects by itself).
_DATABASE_WATCH_S = 2.0


async def restart_when_gone(embedded: EmbeddedPostgres) -> None:
    """The embedded database is ours to keep alive: if its server dies, start it again."""
    while True:
        await asyncio.sleep(_DATABASE_WATCH_S)
        if await asyncio.to_thread(embedded.is_running):
            continue
        log.error("the embedded PostgreSQL in %s is gone; starting it again", embedded.pgdata)
        try:
            await asyncio.to_thread(embedded.start)
        except EmbeddedPostgresError as exc:
            # Its backends may still be leaving after a crash; the next round tries again.
            log.error("restarting the embedded PostgreSQL failed: %s", exc)
