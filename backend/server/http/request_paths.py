"""Paths as requests give them: refused with a 400 before any service sees them when no file could have them,
and a folder in one spelling for every rule that compares folders."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from backend.server.http.errors import ApiError
from backend.server.http.params import optional_text, required_text
from backend.util.model_paths import normal_path

# Linux's limits (linux/limits.h), in bytes: PATH_MAX counts the final NUL, so a path is at most 4,095 bytes;
# NAME_MAX is one file or folder name. A longer path names no file, and a service quoting it in its error
# would not fit gRPC's metadata (a 100 KB path came back as a "disk full").
PATH_MAX = 4096
NAME_MAX = 255


def checked_path(value: str, name: str) -> str:
    """value, when the kernel could take it as a path; else a 400 that says which limit it passes."""
    size = len(value.encode("utf-8"))
    if size >= PATH_MAX:
        raise ApiError(400, "path_too_long",
                       f"{name!r} is {size:,} bytes long; a path is at most {PATH_MAX - 1:,} bytes (PATH_MAX)")
    longest = max(len(part.encode("utf-8")) for part in value.split("/"))
    if longest > NAME_MAX:
        raise ApiError(400, "name_too_long",
                       f"{name!r} has a name of {longest:,} bytes; a file or folder name is at most "
                       f"{NAME_MAX} bytes (NAME_MAX)")
    return value


def required_path(params: Mapping[str, Any], name: str) -> str:
    return checked_path(required_text(params, name), name)


def optional_path(params: Mapping[str, Any], name: str) -> str | None:
    value = optional_text(params, name)
    return None if value is None else checked_path(value, name)


def read_folder(params: Mapping[str, Any], roots: Sequence[Path]) -> str:
    """'' for every root, else an absolute folder inside the roots in its one spelling; 403 outside them.

    The roots are resolved (config.py), so the folder is too where the gateway sees it: named through a
    symlink to a root, it is that root's folder, spelled as the catalogue's paths are. Where the gateway does
    not see the disks (compose) nothing resolves and the name is the folder. The hasher checks again.
    """
    folder = optional_path(params, "folder") or ""
    if not folder:
        return ""
    if not posixpath.isabs(folder):
        raise ApiError(400, "invalid_parameter", f"'folder' must be an absolute path; got {folder!r}")
    if "\x00" in folder:
        raise ApiError(400, "invalid_parameter", "'folder' must not contain NUL")
    real = normal_path(os.path.realpath(normal_path(folder)))
    if not any(PurePosixPath(real).is_relative_to(root) for root in roots):
        raise ApiError(403, "permission_denied", f"{folder!r} is outside the model roots")
    return real


def folder_key(folder: str, roots: Sequence[Path]) -> str:
    """The folder as the one-job-per-folder rule compares it: every spelling of the whole library is ''."""
    normal = normal_path(folder) if folder else ""
    return "" if len(roots) == 1 and normal == str(roots[0]) else normal
