"""This gateway's presence: one idle session named for its start id, held open (and opened again) for its life.

Other gateways sharing the catalogue and the image folder (several may run side by side) read these sessions
to know which gateways are alive: a start removes only the staged previews of gateways that are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from backend.database.gateway_queries import application_name

log = logging.getLogger(__name__)

# How soon a lost session is opened again; and how often an open one is looked at, should its end go unheard.
RECONNECT_S = 1.0
CHECK_S = 5.0


async def _connect(dsn: str, start_id: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"application_name": application_name(start_id)})


async def _until_closed(conn: asyncpg.Connection) -> None:
    closed = asyncio.Event()
    conn.add_termination_listener(lambda _conn: closed.set())
    try:
        while not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHECK_S):
                    await closed.wait()
    finally:
        conn.terminate()


async def _hold(dsn: str, start_id: str, conn: asyncpg.Connection) -> None:
    """Keep the session open; when the database loses it (a restart), open it again."""
    while True:
        await _until_closed(conn)
        log.warning("the gateway's presence session was lost; opening it again")
        while True:
            try:
                conn = await _connect(dsn, start_id)
                break
            except Exception as exc:  # noqa: BLE001 - whatever the database says, keep trying: presence is for life
                log.warning("the gateway's presence session could not open (%s); trying again", exc)
                await asyncio.sleep(RECONNECT_S)


@contextlib.asynccontextmanager
async def presence(dsn: str, start_id: str) -> AsyncIterator[None]:
    """Present from the start of the block (so before any preview is staged), absent after it."""
    holder = asyncio.create_task(_hold(dsn, start_id, await _connect(dsn, start_id)), name="gateway-presence")
    try:
        yield
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
