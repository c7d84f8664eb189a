"""The use case of a person's own fields: validated values in, what is now kept out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from backend.database import personal_queries
from backend.database.conflicts import retried

# The fields a person sets here, and what the model view and search read them as.
FIELDS = ("notes", "tags", "favourite")


class Personal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def update(self, sha256: str, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """values: field -> new value, None to clear. None when no file has this content."""
        async def attempt() -> dict[str, Any] | None:
            async with self._pool.acquire() as conn:
                return await personal_queries.write_yours(conn, sha256, values)

        return await retried(attempt, f"your notes of {sha256}")
