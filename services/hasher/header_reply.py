"""What ReadHeaders answers for one path: the path checked like Stat, then its header read (header bytes only)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from backend.util.file_identity import FileIdentity
from backend.util.model_paths import ModelFile, resolve_model_file
from modelvault.hasher.v1 import hasher_pb2
from services.hasher import shadow
from services.hasher.errors import FileChangedError, ReadError, UnreadableError
from services.hasher.headers.model_header import read_header
from services.hasher.headers.thumbnail import read_thumbnail
from services.hasher.status import STATUSES

Identity = Callable[[ModelFile], hasher_pb2.FileIdentity]

MAX_READ_HEADERS = 1000


def header_reply(path: str, roots: Sequence[Path], dev: bool, identity: Identity) -> hasher_pb2.ModelHeader:
    """One file's answer; every failure is that file's own (file_error), never the call's."""
    try:
        file = resolve_model_file(path, roots)
        if shadow.is_shadow(file, dev):
            return hasher_pb2.ModelHeader(path=path, identity=identity(file))
        header = read_header(file.resolved_path)
        if FileIdentity.from_stat(os.stat(file.resolved_path)) != FileIdentity.from_fields(file):
            # Replaced or rewritten while read: this header may be the new file's, not the one checked.
            raise FileChangedError(f"{path!r} changed while its header was read")
    except Exception as exc:  # noqa: BLE001 - a path refused or a file unreadable is that file's answer
        code, message = STATUSES.status_for(_as_read_error(exc))
        return hasher_pb2.ModelHeader(path=path, file_error=hasher_pb2.FileError(code=code.value[0], message=message))
    return hasher_pb2.ModelHeader(
        path=path, identity=identity(file), format=header.format, model_type=header.model_type,
        architecture=header.architecture, trigger_words=header.trigger_words,
        facts_json=json.dumps(header.facts, ensure_ascii=False), header_error=header.error,
        has_thumbnail=header.has_thumbnail)


def thumbnail_reply(path: str, roots: Sequence[Path]) -> hasher_pb2.ReadThumbnailResponse:
    """The image a file's header embeds; raises what STATUSES maps (a bad path, no thumbnail, a read error)."""
    file = resolve_model_file(path, roots)
    try:
        image, media_type = read_thumbnail(file.resolved_path)
    except OSError as exc:
        raise _as_read_error(exc) from None
    return hasher_pb2.ReadThumbnailResponse(image=image, media_type=media_type)


def _as_read_error(exc: Exception) -> Exception:
    """OSError from open/read as the hasher's read errors, so it maps like Hash's would."""
    if isinstance(exc, PermissionError):
        return UnreadableError(f"cannot read the file: {exc.strerror}")
    if isinstance(exc, OSError):
        return ReadError(f"cannot read the file's header: {exc.strerror or exc}")
    return exc
