"""The catalogue's use cases: a model file's hash (recalled when unchanged; promoting a pending file); registration."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

import asyncpg
from asyncpg import Record

from backend.database import db
from backend.database.migration.promotion import promote
from backend.server.adapters.clients import HasherClient, ImagesClient, hashed_file
from backend.server.adapters.failures import AccessDenied, FileMissing
from backend.server.catalogue.registration import PendingRegistration
from backend.server.previews.service import Previews
from backend.util.file_identity import FileIdentity, HashedFile
from backend.util.progress import Progress


@dataclass(frozen=True)
class HashOutcome:
    sha256: str
    path: str
    cached: bool
    migrated: bool
    # The path this model's record had before it was found moved here.
    moved_from: str | None = None


class PendingPolicy(enum.Enum):
    """What hashing a file does to its pending record; the values are the REST parameter `pending_status`."""

    # Reactive migration: a pending file becomes an active model, its preview renamed to its hash; a file
    # the catalogue does not know yet is added to it.
    PROMOTE = "pending"
    # Only the hash: a pending record stays pending and no new path is catalogued.
    IGNORE = "ignore"


@dataclass(frozen=True)
class _Known:
    """What the catalogue knew of a file when asked about it, and the file as the hasher saw it then."""

    path: str
    identity: FileIdentity
    active: Record | None
    pending: Record | None
    # An unchanged record of the same inode under another path (a rename, a hard link); only for a new path.
    twin: Record | None

    def unchanged_record(self) -> Record | None:
        """The record whose hash still holds for the file: its own while unchanged, else its inode's twin."""
        if self.active is not None and FileIdentity.from_row(self.active) == self.identity:
            return self.active
        return self.twin


class Catalogue:
    """What the handlers, the scan and the import ask of the catalogue about one file: its hash, its registration."""

    def __init__(self, pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient,
                 registration: PendingRegistration, previews: Previews, *, dev: bool) -> None:
        self._pool = pool
        self._registration = registration
        self._hasher = hasher
        self._images = images
        self._dev = dev
        # Which picture each content shows: the scan and the preview routes ask it through the catalogue.
        self.previews = previews
        # Told of each model one request added (promoted) or found moved: the stream of catalogue changes.
        self.listeners: list[Callable[[dict], None]] = []

    async def hash_model(self, path: str, *, pending: PendingPolicy, force: bool = False,
                         on_progress: Progress | None = None) -> HashOutcome:
        """The SHA-256 of a model file, read only when the catalogue cannot answer (or force); then, as the
        policy says, promote its pending record, else keep the catalogue true to the disk.

        on_progress, if given, hears bytes_done and bytes_total while the file is really read.
        """
        outcome = await self._hash_model(path, pending, force, on_progress)
        if outcome.migrated or outcome.moved_from is not None:
            change = {"added": 1} if outcome.migrated else {"moved": 1}
            for listener in self.listeners:
                listener({"type": "models", "sha256": outcome.sha256, "path": outcome.path, **change})
        return outcome

    async def _hash_model(self, path: str, pending: PendingPolicy, force: bool,
                          on_progress: Progress | None) -> HashOutcome:
        known = await self._look_up(path, pending)
        file, cached = await self._hash_or_recall(known, force=force, on_progress=on_progress)
        if known.pending is not None:  # looked up only to be promoted
            return await self._promote(known, known.pending, file, cached=cached)
        registered, moved_from = await self._keep_catalogue_true(known, file, cached=cached, pending=pending)
        if registered is not None and pending is PendingPolicy.PROMOTE:
            # Registered while the file was hashed: the registration won, nothing was written; promote it.
            return await self._promote(known, registered, file, cached=cached)
        return HashOutcome(file.sha256, known.path, cached, migrated=False, moved_from=moved_from)

    async def _look_up(self, path: str, pending: PendingPolicy) -> _Known:
        """The file as it is now, and what the catalogue holds for it (its pending row only when to promote)."""
        stat = await self._hasher.stat(path)
        resolved, identity = stat.resolved_path, FileIdentity.from_fields(stat)
        async with self._pool.acquire() as conn:
            active = await db.get_model_by_path(conn, resolved)
            pending_row = await db.get_pending(conn, resolved) if pending is PendingPolicy.PROMOTE else None
            # Under a new path, the same unchanged inode (a rename, a hard link) holds bytes we already hashed.
            twin = None if active is not None else await db.model_with_identity(conn, identity)
        return _Known(resolved, identity, active, pending_row, twin)

    async def _hash_or_recall(self, known: _Known, *, force: bool, on_progress: Progress | None
                              ) -> tuple[HashedFile, bool]:
        """The file with its hash, and whether the catalogue answered (an unchanged record) instead of a read."""
        record = known.unchanged_record()
        if record is not None and not force:
            return HashedFile(known.path, record["sha256"], known.identity), True
        # Dev mode: the hasher answers a shadow file with the hash we already hold for it.
        held = known.active["sha256"] if (self._dev and known.active is not None) else ""
        digest = await self._hasher.hash(known.path, known_sha256=held, on_progress=on_progress)
        return hashed_file(digest), False

    async def _keep_catalogue_true(self, known: _Known, file: HashedFile, *, cached: bool, pending: PendingPolicy
                                   ) -> tuple[Record | None, str | None]:
        """Record what the hash found: a new path (a copy, or a model moved here) or a changed file's new hash.

        Returns the pending row registered while the file was hashed (nothing written then), and the path
        the model moved from, if it did.
        """
        if known.active is None:
            return await self._catalogue_new_path(file) if pending is PendingPolicy.PROMOTE else (None, None)
        if cached:
            return None, None  # the record already says all of it
        registered, _ = await self._write_active(file, partial(db.upsert_model, file=file, image_key=None))
        return registered, None

    async def _promote(self, known: _Known, pending_row: Record, file: HashedFile, *, cached: bool) -> HashOutcome:
        """Reactive migration: the pending record becomes an active model, its preview renamed to the hash."""
        previous = known.active["image_key"] if known.active is not None else None
        await promote(self._pool, self._images, pending_row["image_key"], file, previous)
        return HashOutcome(file.sha256, known.path, cached, migrated=True)

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
                pending, moved = await self._write_active(
                    file, partial(db.relocate_model, old_path=row["path"], file=file), also_lock=[row["path"]])
                if pending is not None:
                    return pending, None
                if moved is not None:
                    return None, row["path"]
        # A copy beside its original: a record of its own, sharing the preview of that content.
        image_key = next((row["image_key"] for row in same_content if row["image_key"]), None)
        pending, _ = await self._write_active(file, partial(db.upsert_model, file=file, image_key=image_key))
        return pending, None

    async def _exists(self, path: str) -> bool:
        """Whether a catalogued path still names a file we manage (gone, or under a root no longer configured)."""
        try:
            await self._hasher.stat(path)
        except (FileMissing, AccessDenied):
            return False
        return True

    async def register_pending(self, path: str, preview_path: str | None) -> tuple[Record, bool]:
        """Record a file as pending, with its preview if given; returns the row and whether it is new."""
        return await self._registration.register(path, preview_path)
