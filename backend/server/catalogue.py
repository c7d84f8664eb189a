"""The gateway's use cases: hash a model file (answering from the catalogue when it can) and register a pending one."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath

import asyncpg
from asyncpg import Record

from backend.database import db
from backend.database.migration.promotion import HashedFile, promote
from backend.server.clients import HasherClient, ImagesClient, ProgressCallback
from backend.server.errors import ApiError
from backend.util.image_store import PENDING_DIR

_UNSAFE_IN_KEY = re.compile(r"[\x00-\x1f\x7f/\\]")
# The image store caps a file name at 255 bytes; leave room for the suffix and ".webp".
_MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class HashOutcome:
    sha256: str
    path: str
    cached: bool
    migrated: bool
    # The path this model's record had before it was found moved here.
    moved_from: str | None = None


def pending_image_key(name: str, path: str, *, suffixed: bool) -> str:
    """pending/<name>.webp, or with a suffix derived from the path when that name is already taken."""
    safe = _UNSAFE_IN_KEY.sub("_", name).encode("utf-8", "replace")[:_MAX_NAME_BYTES].decode(errors="ignore")
    while ".." in safe:
        safe = safe.replace("..", "_.")
    if not safe or safe.startswith("."):
        safe = "_" + safe
    if suffixed:
        safe += "-" + hashlib.sha256(path.encode()).hexdigest()[:10]
    return f"pending/{safe}.webp"


def unchanged(row: Record, identity) -> bool:
    """The catalogue row still describes the file on disk: same size, mtime, inode and device."""
    return (
        row["size"] == identity.size
        and row["mtime_ns"] == identity.mtime_ns
        and int(row["inode"]) == identity.inode
        and int(row["device"]) == identity.device
    )


class Catalogue:
    def __init__(self, pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient, *, dev: bool,
                 compressions: int = 4) -> None:
        self._pool = pool
        # Compressions beyond what the image workers run at once would only queue there, each holding a request.
        self._compressions = asyncio.Semaphore(compressions)
        self._hasher = hasher
        self._images = images
        self._dev = dev

    @property
    def images(self) -> ImagesClient:
        return self._images

    async def sha256(
        self, path: str, *, pending_status: str, force: bool = False, on_progress: ProgressCallback | None = None
    ) -> HashOutcome:
        """The SHA-256 of a model file; with pending_status="pending", promote its pending record.

        on_progress, if given, hears (bytes done, total) while the file is really read.
        """
        identity = await self._hasher.stat(path)
        resolved = identity.resolved_path
        async with self._pool.acquire() as conn:
            active = await db.get_model_by_path(conn, resolved)
            pending = await db.get_pending(conn, resolved) if pending_status == "pending" else None
            # Under a new path, the same unchanged inode (a rename, a hard link) holds bytes we already hashed.
            twin = None if active is not None else await db.model_with_identity(
                conn, device=identity.device, inode=identity.inode, size=identity.size, mtime_ns=identity.mtime_ns)

        known = active if active is not None and unchanged(active, identity) else twin
        if known is not None and not force:
            file = HashedFile(resolved, known["sha256"], identity.size, identity.mtime_ns, identity.inode,
                              identity.device)
            cached = True
        else:
            # Dev mode: the hasher answers a shadow file with the hash we already hold for it.
            held = active["sha256"] if (self._dev and active is not None) else ""
            digest = await self._hasher.hash(resolved, known_sha256=held, on_progress=on_progress)
            ident = digest.identity
            file = HashedFile(ident.resolved_path, digest.sha256, ident.size, ident.mtime_ns, ident.inode, ident.device)
            cached = False

        moved_from = None
        if pending is None and active is None and pending_status == "pending":
            pending, moved_from = await self._catalogue_new_path(file)
        elif pending is None and active is not None and not (cached and known is active):
            # Keep the catalogue true to the disk: a changed file gets its new hash.
            became_pending, _ = await self._write_active(file, partial(
                db.upsert_model, path=file.path, sha256=file.sha256, size=file.size, mtime_ns=file.mtime_ns,
                inode=file.inode, device=file.device, image_key=None))
            pending = became_pending if pending_status == "pending" else None
        if pending is not None:
            await promote(self._pool, self._images, pending["image_key"], file)
            return HashOutcome(file.sha256, resolved, cached, migrated=True)
        return HashOutcome(file.sha256, resolved, cached, migrated=False, moved_from=moved_from)

    async def _write_active(self, file: HashedFile, write: Callable[[asyncpg.Connection], Awaitable[Record | None]],
                            *, also_lock: Sequence[str] = ()) -> tuple[Record | None, Record | None]:
        """Run write (it makes file.path active) under the path's lock, unless the path became pending meanwhile.

        A registration that came in while the file was hashed wins: its pending row is returned unwritten,
        for the caller to promote, so the path is never both pending and active. Else (None, what write returned).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await db.lock_paths(conn, [file.path, *also_lock])
            pending = await db.get_pending(conn, file.path)
            return (pending, None) if pending is not None else (None, await write(conn))

    async def _catalogue_new_path(self, file: HashedFile) -> tuple[Record | None, str | None]:
        """Add a path to the catalogue; when a file of the same hash vanished from its path, it moved here.

        A moved model keeps its record (creation time, preview) instead of gaining a twin and leaving a
        dead entry behind. Returns the pending row registered meanwhile (nothing written then), or the path
        the model moved from, if it did.
        """
        async with self._pool.acquire() as conn:
            same_content = await db.models_with_hash(conn, file.sha256)
        for row in same_content:
            if not await self._exists(row["path"]):
                pending, moved = await self._write_active(file, partial(
                    db.relocate_model, old_path=row["path"], path=file.path, sha256=file.sha256, size=file.size,
                    mtime_ns=file.mtime_ns, inode=file.inode, device=file.device), also_lock=[row["path"]])
                if pending is not None:
                    return pending, None
                if moved is not None:
                    return None, row["path"]
        # A copy beside its original: a record of its own, sharing the preview of that content.
        image_key = next((row["image_key"] for row in same_content if row["image_key"]), None)
        pending, _ = await self._write_active(file, partial(
            db.upsert_model, path=file.path, sha256=file.sha256, size=file.size, mtime_ns=file.mtime_ns,
            inode=file.inode, device=file.device, image_key=image_key))
        return pending, None

    async def _exists(self, path: str) -> bool:
        """Whether a catalogued path still names a file we manage (gone, or under a root no longer configured)."""
        try:
            await self._hasher.stat(path)
        except ApiError as exc:
            if exc.status in (403, 404):
                return False
            raise
        return True

    async def register_pending(self, path: str, preview_path: str | None) -> tuple[Record, bool]:
        """Record a file as pending, with its preview if given; returns the row and whether it is new.

        The preview is compressed first, under a key of this request's own, with no connection held: a slow
        image cannot starve the pool. Only a preview that compressed is published under the row's key, so a
        bad preview changes nothing, and a failed or abandoned request leaves no file behind.
        """
        identity = await self._hasher.stat(path)
        resolved = identity.resolved_path
        if preview_path is None:
            return await self._claim_pending(resolved)
        staged = f"{PENDING_DIR}/~staged-{uuid.uuid4().hex}.webp"
        try:
            async with self._compressions:
                await self._images.compress_file(preview_path, staged)
            row, created = await self._claim_pending(resolved)
            # A new preview replaces the old one: link keeps an existing target, so that goes first.
            await self._images.delete(row["image_key"])
            await self._images.link(staged, row["image_key"])
            return row, created
        finally:
            # Shielded: a request cancelled here still lets go of its staged file.
            await asyncio.shield(self._images.delete(staged))

    async def _claim_pending(self, resolved: str) -> tuple[Record, bool]:
        async with self._pool.acquire() as conn, conn.transaction():
            # Under the path's lock: a hash that makes the file active runs wholly before or after this.
            await db.lock_paths(conn, [resolved])
            if await db.get_model_by_path(conn, resolved) is not None:
                raise ApiError(409, "already_active", f"{resolved!r} is already an active model")
            existing = await db.get_pending(conn, resolved, for_update=True)
            row = existing or await self._insert_pending(conn, resolved, PurePosixPath(resolved).stem)
        return row, existing is None

    async def _insert_pending(self, conn: asyncpg.Connection, path: str, name: str) -> Record:
        for suffixed in (False, True):
            key = pending_image_key(name, path, suffixed=suffixed)
            row = await db.insert_pending(conn, path=path, name=name, image_key=key)
            if row is not None:
                return row
            if (row := await db.get_pending(conn, path)) is not None:
                return row  # registered by a concurrent request a moment ago
        raise ApiError(409, "conflict", f"no free preview name for {path!r}")
