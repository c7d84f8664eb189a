"""Collect what the legacy sources say about each model file, through the hasher (the gateway may see no disk)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from backend.database.migration.legacy import a1111, a1111_diskcache
from backend.database.migration.legacy.claims import Claim, LegacyFormatError
from backend.database.migration.legacy.sidecars import read_sidecars, source_of
from backend.server.adapters.clients import HasherClient
from backend.server.adapters.failures import FileFailed, FileMissing
from backend.server.legacy.report import ImportReport
from backend.util.file_identity import FileIdentity
from modelvault.hasher.v1 import hasher_pb2


@dataclass
class LegacyFile:
    """A model file as the hasher saw it, and every source's claim about it."""

    entry: hasher_pb2.ReadSidecarsResponse
    claims: list[Claim] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.entry.identity.resolved_path

    @property
    def identity(self) -> FileIdentity:
        return FileIdentity.from_fields(self.entry.identity)


async def gather(hasher: HasherClient, report: ImportReport, *, folder: str = "", paths: Sequence[str] = (),
                 a1111_roots: Sequence[str] = ()) -> list[LegacyFile]:
    """The model files that some source has a claim about, by path; every unusable item is reported."""
    files: dict[str, LegacyFile] = {}
    for entry in await hasher.read_sidecars(folder, paths):
        add_entry(files, entry, report)
    for root in a1111_roots:
        await _add_a1111(hasher, root, files, report)
    return sorted((file for file in files.values() if file.claims), key=lambda file: file.path)


def add_entry(files: dict[str, LegacyFile], entry: hasher_pb2.ReadSidecarsResponse,
              report: ImportReport) -> LegacyFile | None:
    """The file of entry, its side-cars read once however many listings found it."""
    if entry.error:
        report.skip(entry.requested_path, "import", entry.error)
        return None
    path = entry.identity.resolved_path
    if path in files:
        return files[path]
    for sidecar in entry.sidecars:
        if sidecar.error:
            report.skip(sidecar.path, source_of(sidecar.path), sidecar.error)
    readable = [(s.path, s.content) for s in entry.sidecars if not s.error]
    claims, problems = read_sidecars(posixpath.basename(path), readable)
    for problem in problems:
        report.skip(*problem)
    files[path] = LegacyFile(entry, claims)
    return files[path]


# A web UI's hash caches, oldest format first: cache.json until 1.9.0, then its diskcache, whose entries are newer.
_A1111_CACHES: tuple[tuple[str, Callable[[bytes, bytes], tuple[list[a1111.CacheEntry], list[tuple[str, str]]]]],
                     ...] = (
    (a1111.CACHE_FILE, lambda content, _wal: a1111.read_cache(content)),
    (a1111_diskcache.RELATIVE_PATH, a1111_diskcache.read_diskcache),
)


async def _a1111_entries(hasher: HasherClient, root: str, report: ImportReport
                         ) -> dict[str, tuple[a1111.CacheEntry, str]]:
    """Each key's entry in the newest hash cache the web UI at root has, with that cache's path; a cache it
    does not have is only worth a word when it has none at all."""
    entries: dict[str, tuple[a1111.CacheEntry, str]] = {}
    absent: list[tuple[str, str]] = []
    for relative, read in _A1111_CACHES:
        cache_path = posixpath.join(root, relative)
        try:
            content, wal = await hasher.read_legacy_cache(cache_path)
            found, problems = read(content, wal)
        except LegacyFormatError as exc:
            report.skip(cache_path, a1111.SOURCE, str(exc))
            continue
        except FileMissing as exc:
            absent.append((cache_path, exc.message))
            continue
        except FileFailed as exc:
            report.skip(cache_path, a1111.SOURCE, exc.message)
            continue
        entries.update((entry.key, (entry, cache_path)) for entry in found)
        for key, reason in problems:
            report.skip(cache_path, a1111.SOURCE, f"{key}: {reason}")
    if len(absent) == len(_A1111_CACHES):
        for cache_path, message in absent:
            report.skip(cache_path, a1111.SOURCE, message)
    return entries


async def _add_a1111(hasher: HasherClient, root: str, files: dict[str, LegacyFile], report: ImportReport) -> None:
    entries = await _a1111_entries(hasher, root, report)
    if not entries:
        return
    found: dict[str, hasher_pb2.ReadSidecarsResponse] = {}
    for kind in sorted({entry.kind for entry, _ in entries.values()}):
        refusals = []
        for relative in a1111.KIND_FOLDERS[kind]:
            try:
                listing = await hasher.read_sidecars(posixpath.join(root, relative))
            except FileFailed as exc:
                refusals.append((posixpath.join(root, relative), exc))
                continue
            found.update({f"{relative}/{entry.folder_relative_path}": entry for entry in listing})
        # A web UI without LyCORIS is normal: only a kind with no readable folder at all is worth a word.
        if len(refusals) == len(a1111.KIND_FOLDERS[kind]):
            for folder, exc in refusals:
                if not isinstance(exc, FileMissing):
                    report.skip(folder, a1111.SOURCE, exc.message)
    claims, unmatched = a1111.match_files((entry for entry, _ in entries.values()), found)
    for key, reason in unmatched:
        report.skip(entries[key][1], a1111.SOURCE, f"{key}: {reason}")
    for relative, claim in claims.items():
        file = add_entry(files, found[relative], report)
        if file is not None:
            file.claims.append(claim)
