"""A folder only its owner may enter (sockets live in these): created 0700, or checked and tightened."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path


class UnsafeFolderError(RuntimeError):
    """A folder we must keep private exists and belongs to someone else (or is a link)."""


def private_dir(path: Path, owner: tuple[int, int] | None = None) -> Path:
    """`path` as a 0700 folder of `owner` (uid, gid; default: us); a link or a stranger's folder is refused."""
    uid = os.geteuid() if owner is None else owner[0]
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    # As root, a folder that root made (older versions) is ours to hand over.
    ours = info.st_uid == uid or (owner is not None and info.st_uid == 0)
    if not stat.S_ISDIR(info.st_mode) or not ours:
        raise UnsafeFolderError(
            f"{path} exists and is not a private folder of uid {uid}: remove it or choose another MODELVAULT_DATA_DIR"
        )
    if owner is not None and info.st_uid != uid:
        os.chown(path, *owner)
    # Only its owner could ever write into it, so an older, looser mode is safe to tighten.
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def short_private_path(prefix: str, longer: Path) -> Path:
    """A short, stable path in the temp folder standing for `longer`, for sockets (paths capped at 107 bytes)."""
    digest = hashlib.sha256(bytes(longer)).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"{prefix}-{os.geteuid()}-{digest}"
