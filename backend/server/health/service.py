"""Whether the gateway's three dependencies answer: the database and the two gRPC services."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc

from backend.server.adapters.clients import is_serving

_TIMEOUT_S = 2.0


class Health:
    """Asks each dependency at once, each within a timeout: a slow one is as good as down."""

    def __init__(self, pool: asyncpg.Pool, hasher: grpc.aio.Channel, images: grpc.aio.Channel) -> None:
        self._pool = pool
        self._hasher = hasher
        self._images = images

    async def check(self) -> dict[str, bool]:
        """{"database", "hasher", "images"}: True for each that answers."""
        database, hasher, images = await asyncio.gather(
            self._database_ok(),
            is_serving(self._hasher, _TIMEOUT_S),
            is_serving(self._images, _TIMEOUT_S),
        )
        return {"database": database, "hasher": hasher, "images": images}

    async def _database_ok(self) -> bool:
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                async with self._pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means "not healthy", which is the answer
            return False
        return True
