"""Checks that a path names a regular file inside the model roots, without ever opening it."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class ModelPathError(Exception):
    """Base of the path errors; each maps to one gRPC status."""


class InvalidPathError(ModelPathError):
    """Empty, relative after resolution, or containing NUL: INVALID_ARGUMENT."""


class OutsideRootsError(ModelPathError):
    """Resolves (after symlinks) to a place outside every model root: PERMISSION_DENIED."""


class FileMissingError(ModelPathError):
    """Nothing at that path: NOT_FOUND."""


class NotRegularFileError(ModelPathError):
    """A directory, FIFO, socket or device: INVALID_ARGUMENT. Never opened, so a FIFO cannot block us."""


@dataclass(frozen=True)
class ModelFile:
    resolved_path: Path
    model_root: Path
    relative_path: str
    size: int
    mtime_ns: int
    inode: int
    device: int


def normal_path(path: str) -> str:
    """One spelling of an absolute path, by its name alone: '/root/', '/root/./' and '//root' are '/root'.

    posixpath.normpath keeps a leading '//' (POSIX leaves its meaning to the system); on Linux it is '/'.
    """
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def resolve_model_file(path: str, roots: Sequence[Path]) -> ModelFile:
    """Resolve symlinks, check containment in a root, and lstat (no open) the result."""
    if not path or "\x00" in path:
        raise InvalidPathError("path must be a non-empty string without NUL characters")
    _require_encodable(path)
    if path.endswith("/") and path.rstrip("/"):
        # Path() would drop the slash and name the file; the system would refuse "file/" (not a directory).
        raise InvalidPathError(f"a model path names a file and cannot end with '/': {path!r}")
    candidate = Path(path)
    if not candidate.is_absolute():
        raise InvalidPathError(f"path must be absolute: {path!r}")
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InvalidPathError(f"cannot resolve {path!r}: {exc}") from None
    root = next((r for r in roots if resolved == r or resolved.is_relative_to(r)), None)
    if root is None:
        raise OutsideRootsError(f"{path!r} is outside the model roots")
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        raise FileMissingError(f"no such file: {path!r}") from None
    except NotADirectoryError:
        raise FileMissingError(f"no such file: {path!r}") from None
    except OSError as exc:
        raise InvalidPathError(f"cannot stat {path!r}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise NotRegularFileError(f"{path!r} is a {kind}, not a regular file")
    return ModelFile(
        resolved_path=resolved,
        model_root=root,
        relative_path=resolved.relative_to(root).as_posix(),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        inode=st.st_ino,
        device=st.st_dev,
    )


def resolve_model_folder(path: str, roots: Sequence[Path]) -> Path:
    """A folder inside the model roots (after resolving symlinks), or the error a file path would get."""
    if not path or "\x00" in path or not Path(path).is_absolute():
        raise InvalidPathError(f"folder must be an absolute path without NUL characters: {path!r}")
    _require_encodable(path)
    try:
        resolved = Path(path).resolve(strict=False)
    except (OSError, RuntimeError) as exc:
        raise InvalidPathError(f"cannot resolve {path!r}: {exc}") from None
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise OutsideRootsError(f"{path!r} is outside the model roots")
    if not resolved.exists():
        raise FileMissingError(f"no such folder: {path!r}")
    if not resolved.is_dir():
        raise NotRegularFileError(f"{path!r} is not a folder")
    return resolved


def _require_encodable(path: str) -> None:
    # JSON can carry a lone surrogate ("\ud800"); no file name can hold one, and os.stat would raise ValueError.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPathError(f"path is not valid text (it holds a lone surrogate): {path!r}") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"
