"""The scan's queries: compare a batch of found files with the catalogue, add the new ones, find and prune the missing.

A scan holds one connection for its whole run: the paths it has seen go into a temporary table on it,
so that the gateway never holds the library in memory and the missing are found by one anti-join.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg
from asyncpg import Record

from backend.database import db, identity_sql
from backend.util.file_identity import FIELDS


class FileColumns(NamedTuple):
    """A batch of files found on disk, as parallel lists: the i-th entry of each is the i-th file.

    The identity's columns come in FileIdentity's field order, which the queries below take them in.
    """

    paths: list[str]
    devices: list[int]
    inodes: list[int]
    sizes: list[int]
    mtimes_ns: list[int]

    @classmethod
    def of(cls, found: Any) -> FileColumns:
        """From columns named like FileIdentity's fields beside `resolved_path` (the hasher's FoundModels)."""
        return cls(list(found.resolved_path), *(list(getattr(found, name)) for name in FIELDS))


async def begin(conn: asyncpg.Connection) -> None:
    # Statistics lag a table that a scan has just filled: without index probes forced, a rescan's plan may
    # read all of pending_models for each batch of files.
    await conn.execute("""CREATE TEMP TABLE IF NOT EXISTS scan_seen (path text NOT NULL);
                          TRUNCATE scan_seen;
                          SET enable_seqscan = off""")


async def end(conn: asyncpg.Connection) -> None:
    # The connection goes back to the pool: leave nothing of this scan on it.
    await conn.execute("DROP TABLE IF EXISTS scan_seen, scan_missing; RESET enable_seqscan")


class PreviewColumns(NamedTuple):
    """Each found file's side-car picture ("" when none) with its size and mtime, in FileColumns' order."""

    paths: list[str]
    sizes: list[int]
    mtimes_ns: list[int]

    @classmethod
    def of(cls, found: Any) -> PreviewColumns:
        return cls(list(found.preview_path), list(found.preview_size), list(found.preview_mtime_ns))


# A record's side-car picture is not the one the catalogue took its preview from: one was added,
# replaced (another path, size or mtime) or removed, or its compression failed (nothing was noted).
_PREVIEW_DRIFT = """CASE WHEN c.preview IS NULL THEN s.path IS NOT NULL
                        ELSE s.path IS NULL OR (s.sidecar, s.size, s.mtime_ns) <> (c.preview, c.psize, c.pmtime) END"""


async def classify(conn: asyncpg.Connection, files: FileColumns, previews: PreviewColumns) -> list[str]:
    """What each file is to the catalogue, in order: unchanged, preview (unchanged, but its side-car picture
    is not the one its preview was taken from), changed (its record's identity no longer holds), requeued
    (changed, and back in the queue already), pending, pending_preview (pending, and its side-car picture is
    no longer the one noted), growing (pending, and its size or mtime moved since it was seen last), recognised
    (its unchanged inode has a record under another path) or new.
    Also remembers the paths as seen by this scan.
    """
    # Only the files that have a side-car picture send one: most of a library has none, and each array's
    # values cost the gateway their encoding.
    beside = [i for i, path in enumerate(previews.paths, start=1) if path]
    kinds = await conn.fetchval(
        f"""WITH batch AS (
               SELECT * FROM unnest($1::text[], {identity_sql.params(2, arrays=True)})
                   WITH ORDINALITY AS b(path, {identity_sql.COLUMNS}, i)),
           sidecars AS (
               SELECT * FROM unnest($6::bigint[], $7::text[], $8::bigint[], $9::bigint[])
                   AS c(i, preview, psize, pmtime)),
           seen AS (INSERT INTO scan_seen SELECT path FROM batch)
           SELECT array_agg(CASE
               WHEN m.path IS NOT NULL AND {identity_sql.row_of('m')} = {identity_sql.row_of('b')}
                    AND m.changed_at IS NULL AND {_PREVIEW_DRIFT} THEN 'preview'
               WHEN m.path IS NOT NULL AND {identity_sql.row_of('m')} = {identity_sql.row_of('b')} THEN 'unchanged'
               WHEN m.path IS NOT NULL AND p.path IS NULL THEN 'changed'
               WHEN p.path IS NOT NULL AND p.mtime_ns IS NOT NULL
                    AND (p.size, p.mtime_ns) IS DISTINCT FROM (b.size, b.mtime_ns) THEN 'growing'
               WHEN m.path IS NOT NULL THEN 'requeued'
               WHEN p.path IS NOT NULL AND s.path IS NOT NULL AND {_PREVIEW_DRIFT} THEN 'pending_preview'
               WHEN p.path IS NOT NULL THEN 'pending'
               WHEN EXISTS (SELECT 1 FROM models t WHERE {identity_sql.row_of('t')} = {identity_sql.row_of('b')})
                   THEN 'recognised'
               ELSE 'new' END ORDER BY b.i)
           FROM batch b LEFT JOIN sidecars c ON c.i = b.i
                LEFT JOIN models m ON m.path = b.path LEFT JOIN pending_models p ON p.path = b.path
                LEFT JOIN sidecar_previews s ON s.path = b.path""",
        *files, beside, *([column[i - 1] for i in beside] for column in previews),
    )
    return list(kinds)


class NewRows(NamedTuple):
    """Pending rows to insert, as parallel lists; a file is taken by a job once `settle_s` after its mtime."""

    paths: list[str]
    names: list[str]
    image_keys: list[str]
    sizes: list[int]
    mtimes_ns: list[int]


# When a file found with this mtime may be hashed: once it has stood still for the settling time.
_SETTLED_AT = "to_timestamp(b.mtime_ns / 1e9) + make_interval(secs => $7)"


async def insert_pending(conn: asyncpg.Connection, rows: NewRows, settle_s: float, *, changed: bool = False
                         ) -> set[str]:
    """Insert pending rows in one statement; returns the paths inserted (a taken path or key is skipped).

    New files (changed=False): a path made active since the scan classified it (a request hashed it) is
    skipped. Changed files (changed=True): only paths that are active, whose records are marked changed, so
    that they say their hash is the previous one until the promotion of the new one clears the mark. Under the
    paths' locks, which every promotion takes, the check and the insert are one step.
    """
    async with conn.transaction():
        await db.lock_paths(conn, rows.paths)
        inserted = await conn.fetch(
            f"""INSERT INTO pending_models (path, name, image_key, size, mtime_ns, settle_until)
               SELECT b.path, b.name, b.image_key, b.size, b.mtime_ns,
                      CASE WHEN {_SETTLED_AT} > now() THEN {_SETTLED_AT} END
               FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                   AS b(path, name, image_key, size, mtime_ns)
               WHERE EXISTS (SELECT 1 FROM models m WHERE m.path = b.path) = $6
               ON CONFLICT DO NOTHING RETURNING path""",
            *rows, changed, settle_s,
        )
        paths = [row["path"] for row in inserted]
        if changed:
            await conn.execute("UPDATE models SET changed_at = now() WHERE path = ANY($1::text[])", paths)
    return set(paths)


async def note_growth(conn: asyncpg.Connection, files: FileColumns, settle_s: float) -> None:
    """Pending files whose size or mtime moved since they were seen: still being written. Each waits the
    settling time again from now, whatever its mtime says (a copy that keeps the source's mtime)."""
    await conn.execute(
        """UPDATE pending_models p SET size = b.size, mtime_ns = b.mtime_ns,
                  settle_until = now() + make_interval(secs => $4)
           FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS b(path, size, mtime_ns)
           WHERE p.path = b.path""",
        files.paths, files.sizes, files.mtimes_ns, settle_s,
    )


async def pending_paths(conn: asyncpg.Connection, paths: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT path FROM pending_models WHERE path = ANY($1::text[])", list(paths))
    return {row["path"] for row in rows}


async def collect_unseen(conn: asyncpg.Connection, scope: Sequence[str]) -> int:
    """Put every record under the scope's folders that this scan did not see into scan_missing; the count."""
    # A temporary table has no statistics, and this anti-join wants to read both tables whole.
    await conn.execute("ANALYZE scan_seen; DROP TABLE IF EXISTS scan_missing; RESET enable_seqscan")
    prefixes = [folder.rstrip("/") + "/" for folder in scope]
    status = await conn.execute(
        """CREATE TEMP TABLE scan_missing AS
           SELECT path, pending FROM (
               SELECT path, false AS pending FROM models
               UNION ALL SELECT path, true FROM pending_models) r
           WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS s(prefix) WHERE starts_with(r.path, s.prefix))
             AND NOT EXISTS (SELECT 1 FROM scan_seen x WHERE x.path = r.path)""",
        prefixes,
    )
    return int(status.split()[-1])


async def unseen_page(conn: asyncpg.Connection, after: str, limit: int) -> list[Record]:
    return await conn.fetch(
        "SELECT path, pending FROM scan_missing WHERE path > $1 ORDER BY path LIMIT $2", after, limit
    )


async def prune(conn: asyncpg.Connection, active: Sequence[str], pending: Sequence[str]) -> tuple[int, list[str]]:
    """Delete the records of vanished files; returns how many and the preview keys no remaining record uses.

    An active preview is named by its content's hash: it stays while another file of that content remains.
    """
    gone = await conn.fetch(
        """WITH gone AS (DELETE FROM models WHERE path = ANY($1::text[]) RETURNING sha256, image_key)
           SELECT g.image_key, NOT EXISTS (
               SELECT 1 FROM models m WHERE m.sha256 = g.sha256 AND m.path <> ALL($1::text[])) AS orphan
           FROM gone g""",
        list(active),
    )
    pending_keys = await conn.fetch(
        "DELETE FROM pending_models WHERE path = ANY($1::text[]) RETURNING image_key", list(pending)
    )
    keys = {row["image_key"] for row in gone if row["orphan"] and row["image_key"]}
    keys.update(row["image_key"] for row in pending_keys)
    return len(gone) + len(pending_keys), sorted(keys)
