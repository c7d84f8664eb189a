"""The catalogue's invariants, as checks any test can run against the database it used."""

from __future__ import annotations

import asyncpg


async def paths_both_pending_and_active(conn: asyncpg.Connection) -> list[str]:
    """Paths that have an active row and a pending row at once: a file is one or the other, never both."""
    rows = await conn.fetch("SELECT path FROM models JOIN pending_models USING (path) ORDER BY path")
    return [row["path"] for row in rows]


async def assert_no_path_both_pending_and_active(conn: asyncpg.Connection) -> None:
    both = await paths_both_pending_and_active(conn)
    assert both == [], f"{len(both)} path(s) both pending and active, e.g. {both[:3]}"
