"""The pending table as a work queue: leases taken and renewed in batches, promotions many rows per transaction."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from asyncpg import Record

from backend.database import db, identity_sql, short_hash_queries
from backend.util.file_identity import FIELDS, HashedFile

_CLAIMABLE = "(claimed_until IS NULL OR claimed_until < now())"
# What a job takes now: claimable, and settled (a file still being written waits until it has stood still).
_TAKEABLE = f"({_CLAIMABLE} AND (settle_until IS NULL OR settle_until <= now()))"


def _in_folder(param: str) -> str:
    """'' matches every path; otherwise the files under the folder (the prefix ends with a separator)."""
    return f"({param} = '' OR starts_with(path, {param}))"


async def claim_batch(
    conn: asyncpg.Connection, job_id: int, count: int, lease_s: float, folder_prefix: str = ""
) -> list[Record]:
    """Lease up to `count` of the oldest settled rows nobody holds; SKIP LOCKED lets other workers take the next.

    A row this job leased is its own until it promotes or sets it aside, even once its lease has run out (a
    job slowed down past its lease on a busy machine): taking it again would hash it twice and count it twice.

    Each row comes with `previous_image_key`, the preview of the file's record when it is a changed file
    hashed again: the preview it keeps when it has no pending one of its own.
    """
    return await conn.fetch(
        f"""UPDATE pending_models SET claimed_until = now() + make_interval(secs => $3), claimed_by = $1
            WHERE id IN (SELECT id FROM pending_models
                         WHERE {_TAKEABLE} AND {_in_folder('$2')} AND claimed_by IS DISTINCT FROM $1
                         ORDER BY discovered_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
            RETURNING path, name, image_key, size,
                      (SELECT m.image_key FROM models m WHERE m.path = pending_models.path) AS previous_image_key""",
        job_id, folder_prefix, lease_s, count,
    )


async def renew_leases(conn: asyncpg.Connection, job_id: int, lease_s: float) -> None:
    """Extend the job's leases, skipping rows another transaction holds.

    A row held is being promoted (or set aside) by this very job, so it needs no renewal. Waiting for it
    instead would take the job's row locks in physical order while a promotion takes them in path order:
    two transactions each holding what the other wants, which PostgreSQL ends as a deadlock.
    """
    await conn.execute(
        """UPDATE pending_models SET claimed_until = now() + make_interval(secs => $2)
           WHERE id IN (SELECT id FROM pending_models WHERE claimed_by = $1 FOR UPDATE SKIP LOCKED)""",
        job_id, lease_s,
    )


async def set_aside(conn: asyncpg.Connection, path: str, error: str, retry_after_s: float) -> None:
    """A row whose file failed: kept with the reason, out of the queue for a while, held by nobody."""
    await conn.execute(
        """UPDATE pending_models SET last_error = $2, claimed_by = NULL,
                  claimed_until = now() + make_interval(secs => $3)
           WHERE path = $1""",
        path, error, retry_after_s,
    )


async def wait_to_settle(conn: asyncpg.Connection, path: str, settle_s: float) -> None:
    """A file that changed while it was hashed: back in the queue, held by nobody, once it has stood still."""
    await conn.execute(
        """UPDATE pending_models SET claimed_by = NULL, claimed_until = NULL,
                  settle_until = now() + make_interval(secs => $2)
           WHERE path = $1""",
        path, settle_s,
    )


async def next_settled_in(conn: asyncpg.Connection) -> float | None:
    """Seconds until the next file that is still settling may be hashed; None when none is settling."""
    return await conn.fetchval(
        "SELECT extract(epoch FROM min(settle_until) - now())::float8 FROM pending_models WHERE settle_until > now()")


async def count_queue(conn: asyncpg.Connection, folder_prefix: str = "", job_id: int | None = None
                      ) -> tuple[int, int, int]:
    """(every pending row under the folder, those another job than job_id holds a live lease on, those set
    aside after a failure): the first is never 0 while a row waits, whoever holds it."""
    row = await conn.fetchrow(
        f"""SELECT count(*) AS remaining,
                   count(*) FILTER (WHERE claimed_by IS DISTINCT FROM $2 AND claimed_by IS NOT NULL
                                    AND claimed_until >= now()) AS leased_elsewhere,
                   count(*) FILTER (WHERE claimed_by IS NULL AND claimed_until >= now()) AS set_aside
            FROM pending_models WHERE {_in_folder('$1')}""",
        folder_prefix, job_id,
    )
    return row["remaining"], row["leased_elsewhere"], row["set_aside"]


async def work_ahead(conn: asyncpg.Connection, limit: int, folder_prefix: str = "") -> tuple[int, int]:
    """(files, bytes) of the oldest `limit` rows waiting: what a job of that limit has ahead of it.

    Bytes count the rows whose size is known (all since the column exists).
    """
    row = await conn.fetchrow(
        f"""SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM (
                SELECT size FROM pending_models WHERE {_TAKEABLE} AND {_in_folder('$1')}
                ORDER BY discovered_at, id LIMIT $2) AS ahead""",
        folder_prefix, limit,
    )
    return row["files"], row["bytes"]


async def promote_batch(conn: asyncpg.Connection, files: Sequence[HashedFile], image_keys: Sequence[str | None]
                        ) -> list[str]:
    """Reactive migration's step 2 for many files in one transaction; returns the paths promoted.

    As for one file: the paths are locked first, so a concurrent promotion or registration of one waits;
    a path whose pending row is gone and that is active already was promoted by someone else.
    """
    async with conn.transaction():
        paths = [f.path for f in files]
        await db.lock_paths(conn, paths)
        pending = {r["path"] for r in await conn.fetch(
            "SELECT path FROM pending_models WHERE path = ANY($1::text[]) ORDER BY path FOR UPDATE", paths)}
        active = {r["path"] for r in await conn.fetch("SELECT path FROM models WHERE path = ANY($1::text[])", paths)}
        chosen = [(f, key) for f, key in zip(files, image_keys, strict=True)
                  if f.path in pending or f.path not in active]
        await conn.execute(
            f"""INSERT INTO models (path, sha256, {identity_sql.COLUMNS}, image_key)
               SELECT * FROM unnest($1::text[], $2::text[], {identity_sql.params(3, arrays=True)}, $7::text[])
               {db.REFRESH_ON_PATH_CONFLICT}""",
            *_columns(chosen),
        )
        await conn.execute("DELETE FROM pending_models WHERE path = ANY($1::text[])", [f.path for f, _ in chosen])
        await short_hash_queries.store(conn, [f for f, _ in chosen])
        # A preview is named by the content's hash: every file with that content shows it.
        await conn.execute(
            """UPDATE models SET image_key = shared.key
               FROM unnest($1::text[], $2::text[]) AS shared(sha256, key)
               WHERE models.sha256 = shared.sha256 AND models.image_key IS NULL""",
            [f.sha256 for f, key in chosen if key], [key for _, key in chosen if key],
        )
    return [f.path for f, _ in chosen]


def _columns(chosen: list[tuple[HashedFile, str | None]]) -> list[list]:
    """One list per column, in the INSERT's order: path, sha256, the identity's fields, image_key."""
    identities = [f.identity.values() for f, _ in chosen]
    return [
        [f.path for f, _ in chosen], [f.sha256 for f, _ in chosen],
        *([values[i] for values in identities] for i in range(len(FIELDS))),
        [key for _, key in chosen],
    ]
