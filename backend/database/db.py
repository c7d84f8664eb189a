"""The asyncpg pool and every query; each function takes a connection, the caller owns the transaction."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg
from asyncpg import Record

from backend.database import identity_sql, short_hash_queries
from backend.database.migration.schema.apply import apply_migrations
from backend.util.file_identity import FileIdentity, HashedFile

log = logging.getLogger(__name__)

MODEL_COLUMNS = "path, sha256, size, mtime_ns, inode, device, image_key, created_at, updated_at, changed_at, preview_at"
_PENDING_COLUMNS = "path, name, image_key, size, discovered_at, last_error"


async def _session_needs_no_reset(conn: asyncpg.Connection) -> None:
    """The pool's reset step after asyncpg's own (which rolls back a transaction left open).

    Nothing here leaves session state behind: advisory locks are per transaction (the schema's one is
    released before the pool is handed out, or the pool is closed), temporary tables drop at commit, and
    there is no SET, LISTEN or cursor. The default RESET ALL/UNLISTEN/CLOSE ALL would cost every request
    a round trip, a share of the gateway's time worth saving while it pages through the library.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20, wait_s: float = 30.0) -> asyncpg.Pool:
    """Open the pool and bring the schema up to date before anyone queries it.

    A server that is still starting (a container restarted beside us) is waited for up to wait_s.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60,
                                             reset=_session_needs_no_reset)
            break
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("database not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
    except BaseException:
        await pool.close()
        raise
    return pool


# --- one path at a time -------------------------------------------------------------------

# The class of the two-key advisory locks below; the schema migration's one-key lock lives in another space.
_PATH_LOCK_CLASS = 0x4D56


async def lock_paths(conn: asyncpg.Connection, paths: Sequence[str]) -> None:
    """Hold each path's lock until the caller's transaction ends: who makes a path pending or active holds it.

    Outside a transaction this would be released at once, so it insists on one. Locks are taken in one
    order (by hash), so two batches with paths in common cannot deadlock.
    """
    assert conn.is_in_transaction(), "a path lock is only held by a transaction"
    await conn.execute(
        """SELECT pg_advisory_xact_lock($2, h)
           FROM (SELECT DISTINCT hashtext(p) AS h FROM unnest($1::text[]) AS p ORDER BY h) AS ordered""",
        list(paths), _PATH_LOCK_CLASS,
    )


# --- active models -------------------------------------------------------------------------

async def get_model_by_path(conn: asyncpg.Connection, path: str) -> Record | None:
    return await conn.fetchrow(f"SELECT {MODEL_COLUMNS} FROM models WHERE path = $1", path)


# An active row written for a path that has one takes the file's hash and identity, and a preview only when
# one is given: the upserts of one file and of a batch share it.
REFRESH_ON_PATH_CONFLICT = f"""ON CONFLICT (path) DO UPDATE SET
    sha256 = EXCLUDED.sha256, {identity_sql.set_from('EXCLUDED')},
    image_key = COALESCE(EXCLUDED.image_key, models.image_key), updated_at = now(), changed_at = NULL"""


async def upsert_model(conn: asyncpg.Connection, file: HashedFile, *, image_key: str | None) -> Record:
    """Insert or refresh the active row of a path; an existing image key is kept when none is given."""
    await short_hash_queries.store(conn, [file])
    return await conn.fetchrow(
        f"""INSERT INTO models (path, sha256, {identity_sql.COLUMNS}, image_key)
            VALUES ($1, $2, {identity_sql.params(3)}, $7)
            {REFRESH_ON_PATH_CONFLICT}
            RETURNING {MODEL_COLUMNS}""",
        file.path, file.sha256, *file.identity.values(), image_key,
    )


async def model_with_identity(conn: asyncpg.Connection, identity: FileIdentity) -> Record | None:
    """A row for the same inode, unchanged: the same bytes under another path."""
    return await conn.fetchrow(
        f"""SELECT {MODEL_COLUMNS} FROM models
            WHERE {identity_sql.row_of('models')} = ({identity_sql.params(1)}) ORDER BY path LIMIT 1""",
        *identity.values(),
    )


async def relocate_model(conn: asyncpg.Connection, old_path: str, file: HashedFile) -> Record | None:
    """Give the row of old_path the new path and identity, keeping its preview and creation time.

    None when old_path has no row any more or file.path already has one (a concurrent request was first).
    """
    await short_hash_queries.store(conn, [file])
    return await conn.fetchrow(
        f"""UPDATE models SET path = $2, sha256 = $3, ({identity_sql.COLUMNS}) = ({identity_sql.params(4)}),
                   updated_at = now(), changed_at = NULL
            WHERE path = $1 AND NOT EXISTS (SELECT 1 FROM models WHERE path = $2)
            RETURNING {MODEL_COLUMNS}""",
        old_path, file.path, file.sha256, *file.identity.values(),
    )


async def share_image(conn: asyncpg.Connection, sha256: str, image_key: str) -> None:
    """A preview is named by the content's hash: every file with that content shows it."""
    await conn.execute("UPDATE models SET image_key = $2 WHERE sha256 = $1 AND image_key IS NULL", sha256, image_key)


async def models_with_hash(conn: asyncpg.Connection, sha256: str) -> list[Record]:
    return await conn.fetch(f"SELECT {MODEL_COLUMNS} FROM models WHERE sha256 = $1 ORDER BY path", sha256)


# --- pending models ------------------------------------------------------------------------

async def get_pending(conn: asyncpg.Connection, path: str, *, for_update: bool = False) -> Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {_PENDING_COLUMNS} FROM pending_models WHERE path = $1{lock}", path)


async def insert_pending(conn: asyncpg.Connection, *, path: str, name: str, image_key: str, size: int
                         ) -> Record | None:
    """Insert a pending row; None when the path or the image key is already taken."""
    return await conn.fetchrow(
        f"""INSERT INTO pending_models (path, name, image_key, size) VALUES ($1, $2, $3, $4)
            ON CONFLICT DO NOTHING RETURNING {_PENDING_COLUMNS}""",
        path, name, image_key, size,
    )


async def delete_pending(conn: asyncpg.Connection, path: str) -> bool:
    return await conn.execute("DELETE FROM pending_models WHERE path = $1", path) == "DELETE 1"


async def list_pending(conn: asyncpg.Connection, limit: int, offset: int) -> tuple[list[Record], int]:
    rows = await conn.fetch(
        f"SELECT {_PENDING_COLUMNS} FROM pending_models ORDER BY discovered_at, path LIMIT $1 OFFSET $2",
        limit, offset,
    )
    total = await conn.fetchval("SELECT count(*) FROM pending_models")
    return rows, total




async def pending_image_keys(conn: asyncpg.Connection) -> set[str]:
    return {r["image_key"] for r in await conn.fetch("SELECT image_key FROM pending_models")}
