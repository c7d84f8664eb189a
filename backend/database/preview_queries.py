"""Which picture a content shows: the side-car it was taken from, a person's own, and the rows that name it."""

from __future__ import annotations

import asyncpg


async def sha256_of(conn: asyncpg.Connection, path: str) -> str | None:
    """The content of an active, unchanged record at path; None otherwise (pending, changed, gone)."""
    return await conn.fetchval("SELECT sha256 FROM models WHERE path = $1 AND changed_at IS NULL", path)


async def pending_image_key(conn: asyncpg.Connection, path: str) -> str | None:
    return await conn.fetchval("SELECT image_key FROM pending_models WHERE path = $1", path)


async def has_content(conn: asyncpg.Connection, sha256: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM models WHERE sha256 = $1)", sha256)


async def set_by_person(conn: asyncpg.Connection, sha256: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM person_previews WHERE sha256 = $1)", sha256)


async def note_sidecar(conn: asyncpg.Connection, path: str, sidecar: str, size: int, mtime_ns: int) -> None:
    """Remember the side-car picture a model's preview was taken from, as it was."""
    await conn.execute(
        """INSERT INTO sidecar_previews (path, sidecar, size, mtime_ns) VALUES ($1, $2, $3, $4)
           ON CONFLICT (path) DO UPDATE SET sidecar = EXCLUDED.sidecar, size = EXCLUDED.size,
                                            mtime_ns = EXCLUDED.mtime_ns""",
        path, sidecar, size, mtime_ns,
    )


async def forget_sidecar(conn: asyncpg.Connection, path: str) -> None:
    await conn.execute("DELETE FROM sidecar_previews WHERE path = $1", path)


async def sidecar_of_content(conn: asyncpg.Connection, sha256: str) -> tuple[str, str] | None:
    """(model path, side-car) of some current file of this content that has a side-car picture."""
    row = await conn.fetchrow(
        """SELECT m.path, s.sidecar FROM models m JOIN sidecar_previews s ON s.path = m.path
           WHERE m.sha256 = $1 AND m.changed_at IS NULL ORDER BY m.path LIMIT 1""",
        sha256,
    )
    return (row["path"], row["sidecar"]) if row else None


async def show(conn: asyncpg.Connection, sha256: str, image_key: str | None) -> list[str]:
    """Every file of the content now shows image_key (None: no preview); returns their paths."""
    rows = await conn.fetch(
        "UPDATE models SET image_key = $2, preview_at = now() WHERE sha256 = $1 AND changed_at IS NULL RETURNING path",
        sha256, image_key,
    )
    return [row["path"] for row in rows]


async def mark_person(conn: asyncpg.Connection, sha256: str) -> None:
    """Record that a person set this content's preview."""
    await conn.execute(
        "INSERT INTO person_previews (sha256) VALUES ($1) ON CONFLICT (sha256) DO UPDATE SET set_at = now()", sha256)


async def unmark_person(conn: asyncpg.Connection, sha256: str) -> bool:
    """Forget that a person set this content's preview; whether they had."""
    return await conn.execute("DELETE FROM person_previews WHERE sha256 = $1", sha256) == "DELETE 1"


async def forget_vanished(conn: asyncpg.Connection) -> int:
    """Side-car notes of paths that have no record any more (pruned, moved away, gone while pending); how many.

    The table holds a row only for models that came with a picture, so reading it whole is cheap."""
    status = await conn.execute(
        """DELETE FROM sidecar_previews s
           WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.path = s.path)
             AND NOT EXISTS (SELECT 1 FROM pending_models p WHERE p.path = s.path)""")
    return int(status.split()[-1])
