"""What the hasher gives legacy migration: each model's side-car JSON files and a web UI's cache.json, never a model."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from backend.util.model_files import previews_of
from backend.util.model_paths import InvalidPathError, ModelFile, ModelPathError, normal_path, resolve_model_file
from backend.util.sidecar_files import (
    LEGACY_CACHE_NAME,
    MAX_CACHE_BYTES,
    SidecarMissingError,
    SidecarOutsideError,
    read_small_file,
    sidecars_of,
)
from modelvault.hasher.v1 import hasher_pb2

Identity = Callable[[ModelFile], hasher_pb2.FileIdentity]

# AUTOMATIC1111 since 1.9.0 keeps its hashes in a diskcache (SQLite) per section, under <web UI>/cache/.
A1111_HASHES_DB = ("hashes", "cache.db")
# SQLite checkpoints its log at about 4 MB; a log far beyond that is not one a web UI wrote.
MAX_WAL_BYTES = 16 * 1024 * 1024


def found_reply(model: ModelFile, preview: Path | None, folder: Path | None, roots: Sequence[Path],
                identity: Identity) -> hasher_pb2.ReadSidecarsResponse:
    """A model found by the walk, with its side-cars; its path relative to the folder walked."""
    if folder is None:
        relative = model.relative_path
    elif model.resolved_path.is_relative_to(folder):
        relative = model.resolved_path.relative_to(folder).as_posix()
    else:
        relative = model.resolved_path.name
    return hasher_pb2.ReadSidecarsResponse(
        identity=identity(model), preview_path=str(preview or ""), folder_relative_path=relative,
        sidecars=_messages(model.resolved_path, roots))


def path_reply(path: str, roots: Sequence[Path], identity: Identity) -> hasher_pb2.ReadSidecarsResponse:
    """One requested model file with its side-cars, or the reason it could not be checked."""
    try:
        model = resolve_model_file(path, roots)
        siblings = [model.resolved_path.parent / name for name in os.listdir(model.resolved_path.parent)]
    except ModelPathError as exc:
        return hasher_pb2.ReadSidecarsResponse(requested_path=path, error=str(exc))
    except OSError as exc:
        return hasher_pb2.ReadSidecarsResponse(requested_path=path, error=f"cannot list its folder: {exc.strerror}")
    previews = previews_of(model.resolved_path, siblings)
    return hasher_pb2.ReadSidecarsResponse(
        identity=identity(model), preview_path=str(previews[0]) if previews else "", requested_path=path,
        sidecars=_messages(model.resolved_path, roots))


def _messages(model: Path, roots: Sequence[Path]) -> list[hasher_pb2.Sidecar]:
    return [hasher_pb2.Sidecar(path=s.path, content=s.content, error=s.error) for s in sidecars_of(model, roots)]


def read_legacy_cache(path: str, allowed: Sequence[Path]) -> tuple[bytes, bytes]:
    """A web UI's cache.json, or its diskcache's hashes/cache.db with the write-ahead log beside it, inside the
    allowed folders (model roots and import roots): (content, log); the log is empty when there is none."""
    if not path or "\x00" in path or not Path(path).is_absolute():
        raise InvalidPathError(f"path must be absolute, without NUL characters: {path!r}")
    file = Path(path)
    if file.name != LEGACY_CACHE_NAME and (file.parent.name, file.name) != A1111_HASHES_DB:
        raise InvalidPathError(f"only a web UI's {LEGACY_CACHE_NAME} or {'/'.join(A1111_HASHES_DB)} is read this way,"
                               f" not {path!r}")
    # The folders first, by the path's name, before the disk is asked anything: any other answer about a path
    # outside them (missing, a directory, a loop) would tell the caller what exists there. Inside them, the
    # path is resolved and checked again, so a symlink out of them is refused too.
    named = Path(normal_path(path))
    if not any(named == root or named.is_relative_to(root) for root in allowed):
        raise SidecarOutsideError(f"{path!r} is outside the model roots and MODELVAULT_IMPORT_ROOTS")
    if file.name == LEGACY_CACHE_NAME:
        return read_small_file(file, allowed, MAX_CACHE_BYTES), b""
    content = read_small_file(file, allowed, MAX_CACHE_BYTES)
    try:
        # The log after the database: an entry checkpointed between the two reads is in the database already.
        log = read_small_file(file.with_name(file.name + "-wal"), allowed, MAX_WAL_BYTES)
    except SidecarMissingError:
        log = b""
    return content, log
