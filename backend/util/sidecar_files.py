"""Reading the small JSON files other tools leave beside models, safely: capped, regular files, inside the roots."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.util.model_files import is_model_file

# The side-car suffixes of Civitai Helper, ComfyUI-Lora-Manager and Stability Matrix.
SIDECAR_SUFFIXES = (".civitai.info", ".metadata.json", ".cm-info.json", ".json")
LEGACY_CACHE_NAME = "cache.json"
# Side-car JSON is a few KB; a civitai.info with every image's generation data rarely passes 1 MiB.
MAX_SIDECAR_BYTES = 4 * 1024 * 1024
# A web UI's cache.json holds one small entry per model: 30,000 models make about 5 MB.
MAX_CACHE_BYTES = 32 * 1024 * 1024
# O_NONBLOCK: a FIFO named like a side-car must not hang us in open(); O_NOFOLLOW: the path is resolved.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


class SidecarError(Exception):
    """A side-car that exists but is not read; the message says why."""


class SidecarOutsideError(SidecarError):
    """It resolves to a place outside the allowed roots."""


class SidecarMissingError(SidecarError):
    """Nothing at that path."""


@dataclass(frozen=True)
class SidecarFile:
    path: str
    content: bytes = b""
    error: str = ""


def sidecars_of(model: Path, roots: Sequence[Path]) -> list[SidecarFile]:
    """The side-car JSON files beside model (a resolved path) that exist, each read or with the reason it was not."""
    stem = model.name.rsplit(".", 1)[0]
    found = []
    for suffix in SIDECAR_SUFFIXES:
        path = model.parent / (stem + suffix)
        try:
            found.append(SidecarFile(str(path), _read_beside(path, roots)))
        except SidecarMissingError:
            continue
        except SidecarError as exc:
            found.append(SidecarFile(str(path), error=str(exc)))
    return found


def _read_beside(path: Path, roots: Sequence[Path]) -> bytes:
    """In a resolved folder, a name that is not a symlink is inside the roots: open it at once (one syscall
    instead of a stat and a resolve per name, which a 70,000-file library notices); a symlink is checked."""
    try:
        return _read_open(os.open(path, _OPEN_FLAGS), MAX_SIDECAR_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        raise SidecarMissingError(f"no such file: {str(path)!r}") from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise SidecarError(f"cannot open: {exc.strerror}") from None
    return read_small_file(path, roots, MAX_SIDECAR_BYTES)


def read_small_file(path: Path, roots: Sequence[Path], limit: int) -> bytes:
    """The bytes of a regular file of at most limit bytes that resolves inside roots; refused by size first."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise SidecarMissingError(f"no such file: {str(path)!r}") from None
    except OSError as exc:
        raise SidecarError(f"cannot stat: {exc.strerror}") from None
    try:
        resolved = path.resolve(strict=True)
    except RuntimeError:
        raise SidecarError("a symlink loop") from None
    except OSError as exc:
        reason = "a symlink loop" if exc.errno == errno.ELOOP else f"cannot resolve: {exc.strerror}"
        raise SidecarError(reason) from None
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise SidecarOutsideError("resolves outside the allowed folders")
    if is_model_file(resolved.name):
        raise SidecarError("a link to a model file, which is never read this way")
    try:
        fd = os.open(resolved, _OPEN_FLAGS)
    except OSError as exc:
        raise SidecarError(f"cannot open: {exc.strerror}") from None
    return _read_open(fd, limit)


def _read_open(fd: int, limit: int) -> bytes:
    """Read and close fd: a regular file of at most limit bytes, refused by its size before reading."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SidecarError("not a regular file")
        if st.st_size > limit:
            raise SidecarError(f"{st.st_size} bytes, more than the {limit // (1024 * 1024)} MiB a side-car may have")
        with open(fd, "rb", closefd=False) as file:
            content = file.read(limit + 1)
    except OSError as exc:
        raise SidecarError(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(content) > limit:
        raise SidecarError(f"grew past {limit // (1024 * 1024)} MiB while read")
    return content
