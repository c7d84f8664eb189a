"""The image store on disk: validated keys, atomic writes, and idempotent link and delete."""

from __future__ import annotations

import enum
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from backend.util.image_keys import InvalidKeyError, validate_key

# errno values with which os.link says "no hard links here", so a copy has to do.
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


class NotAFileError(Exception):
    """A key that names a directory or a special file: INVALID_ARGUMENT, as a directory given as a model path."""


class LinkOutcome(enum.Enum):
    LINKED = "linked"
    COPIED = "copied"
    TARGET_EXISTS = "target_exists"
    SOURCE_MISSING = "source_missing"


def resolve_key(store: Path, key: str) -> Path:
    """The path a valid key names, checked after resolving symlinks to lie inside the store."""
    validate_key(key)
    root = store.resolve()
    try:
        path = (root / key).resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InvalidKeyError(f"invalid key {key!r}: cannot resolve it: {exc}") from None
    if path == root or not path.is_relative_to(root):
        raise InvalidKeyError(f"invalid key {key!r}: it resolves outside the image store")
    return path


def writable_path(store: Path, key: str) -> Path:
    """The path of a key about to be (re)written: absent or a regular file."""
    path = resolve_key(store, key)
    _require_file_or_missing(path, key)
    return path


def atomic_write(dest: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through a temp file in dest's folder, fsync, rename over dest: readers see all or nothing."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The leading dot keeps temp names out of the key space (no key starts with a dot).
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    atomic_write(dest, lambda out: out.write(data))


def fsync_dir(folder: Path) -> None:
    """Make a rename, link or unlink in folder durable across a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def link(store: Path, source_key: str, target_key: str) -> LinkOutcome:
    """Hard-link source to target, or copy where hard links fail; an existing target is kept."""
    source, target = _pair(store, source_key, target_key)
    _require_file_or_missing(source, source_key)
    # A directory in the target's place would otherwise pass for "target exists", an active image.
    _require_file_or_missing(target, target_key)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        return LinkOutcome.TARGET_EXISTS
    except FileNotFoundError:
        return LinkOutcome.TARGET_EXISTS if _exists(target) else LinkOutcome.SOURCE_MISSING
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINK:
            raise
        return _copy(source, target)
    fsync_dir(target.parent)
    return LinkOutcome.LINKED


def _copy(source: Path, target: Path) -> LinkOutcome:
    # Not race-free against a concurrent writer of the same target, but any such writer
    # writes the same content (a hash key names one content), so the last rename is harmless.
    if _exists(target):
        return LinkOutcome.TARGET_EXISTS
    try:
        src = open(source, "rb")
    except FileNotFoundError:
        return LinkOutcome.TARGET_EXISTS if _exists(target) else LinkOutcome.SOURCE_MISSING
    with src:
        atomic_write(target, lambda out: shutil.copyfileobj(src, out, 1 << 20))
    return LinkOutcome.COPIED


def delete(store: Path, key: str) -> bool:
    """Remove a key; False when it was already absent."""
    path = resolve_key(store, key)
    _require_file_or_missing(path, key)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def _pair(store: Path, source_key: str, target_key: str) -> tuple[Path, Path]:
    source = resolve_key(store, source_key)
    target = resolve_key(store, target_key)
    if source == target:
        raise InvalidKeyError(
            f"invalid keys {source_key!r}, {target_key!r}: source and target are the same file"
        )
    return source, target


def _require_file_or_missing(path: Path, key: str) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotAFileError(f"key {key!r} names something that is not a regular file")


def _exists(path: Path) -> bool:
    try:
        path.lstat()
    except FileNotFoundError:
        return False
    return True
