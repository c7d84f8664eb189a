"""AUTOMATIC1111 (and Forge, SD.Next): the "hashes" section of `cache.json` at the web UI's root (until 1.9.0;
since then the same entries live in a diskcache database, read by a1111_diskcache.py).

Keys are `<kind>/<name>`: for a checkpoint, its path relative to models/Stable-diffusion with the
extension (Windows separators on Windows); for a LoRA or an embedding, the file name without
extension. Each entry is {"mtime": seconds, "sha256": hex}; the web UI trusts it only while the
file's mtime is not newer. "hashes-addnet" is a hash of the tensors alone, not of the file: ignored.
The key `vae` alone is the VAE loaded at the time, whichever file it was: it names no file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from backend.database.migration.legacy.claims import Claim, LegacyFormatError, parse_json, sha256_of
from backend.util.sidecar_files import LEGACY_CACHE_NAME, MAX_CACHE_BYTES

SOURCE = "a1111"
CACHE_FILE = LEGACY_CACHE_NAME
# Where the web UI keeps each kind of model, relative to its root.
KIND_FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoint": ("models/Stable-diffusion",),
    "lora": ("models/Lora", "models/LyCORIS"),
    "textual_inversion": ("embeddings",),
    "vae": ("models/VAE",),
    "hypernet": ("models/hypernetworks",),
}


@dataclass(frozen=True)
class CacheEntry:
    key: str
    kind: str
    name: str
    sha256: str
    mtime_s: float


def read_cache(raw: bytes) -> tuple[list[CacheEntry], list[tuple[str, str]]]:
    """The usable entries of cache.json, and (key, reason) for each entry that is not."""
    data = parse_json(raw, MAX_CACHE_BYTES)
    if not isinstance(data, dict):
        raise LegacyFormatError("cache.json is not a JSON object")
    hashes = data.get("hashes", {})
    if not isinstance(hashes, dict):
        raise LegacyFormatError('the "hashes" section is not an object')
    entries, problems = [], []
    for key, value in hashes.items():
        try:
            entries.append(entry_of(key, value))
        except LegacyFormatError as exc:
            problems.append((key, str(exc)))
    return entries, problems


def entry_of(key: str, value: Any) -> CacheEntry:
    """One entry of the hashes section, as cache.json and the diskcache both hold it."""
    kind, _, name = key.partition("/")
    if not name:
        raise LegacyFormatError("names no file (the web UI keeps one such entry for the VAE it has loaded)")
    if kind not in KIND_FOLDERS:
        raise LegacyFormatError(f"unknown kind of model {kind!r}")
    if not isinstance(value, dict):
        raise LegacyFormatError("entry is not an object")
    mtime = value.get("mtime")
    if isinstance(mtime, bool) or not isinstance(mtime, (int, float)):
        raise LegacyFormatError("entry has no numeric mtime")
    return CacheEntry(key, kind, name.replace("\\", "/"), sha256_of(value.get("sha256"), "sha256"), float(mtime))


def match_files(entries: Iterable[CacheEntry], files: Iterable[str]
                ) -> tuple[dict[str, Claim], list[tuple[str, str]]]:
    """Claims by file (paths relative to the web UI's root, POSIX), and (key, reason) for entries with no file.

    A name is matched as a path relative to its kind's folder (checkpoints), else as a file name
    without extension (LoRAs, embeddings) when exactly one file of that kind has it.
    """
    by_relative: dict[tuple[str, str], str] = {}
    by_name: dict[tuple[str, str], set[str]] = {}
    for path in files:
        for kind, folders in KIND_FOLDERS.items():
            for folder in folders:
                if path.startswith(folder + "/"):
                    inner = PurePosixPath(path[len(folder) + 1:])
                    by_relative[(kind, inner.as_posix())] = path
                    for name in (inner.with_suffix("").as_posix(), inner.stem):
                        by_name.setdefault((kind, name), set()).add(path)
    claims: dict[str, Claim] = {}
    problems = []
    for entry in entries:
        path = by_relative.get((entry.kind, entry.name))
        named = by_name.get((entry.kind, entry.name), set())
        if path is None and len(named) == 1:
            path = next(iter(named))
        if path is None:
            reason = "several files have this name" if named else "no such model file under the web UI's folders"
            problems.append((entry.key, reason))
            continue
        claims[path] = Claim(source=SOURCE, sha256=entry.sha256, mtime_s=entry.mtime_s)
    return claims, problems
