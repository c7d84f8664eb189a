"""Telling our own postmaster from a stranger that inherited its pid, and clearing the lock files it left."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def _pid_in(lock_file: Path) -> int | None:
    """The first line of a PostgreSQL lock file (postmaster.pid, the socket's .lock) is the postmaster's pid."""
    try:
        first = lock_file.read_text(errors="replace").split("\n", 1)[0].strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        # Someone else's file: not a server we started.
        return None
    try:
        pid = int(first)
    except ValueError:
        return None
    return abs(pid) or None


def _runs_in(pid: int, pgdata: Path) -> bool:
    """A postmaster works inside its data folder: its current folder tells ours from a process that reused the pid."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == pgdata
    except OSError:
        # Gone, a zombie (no cwd), or another user's process we may not inspect: not our server.
        return False


def is_our_postmaster(pgdata: Path) -> bool:
    pid = _pid_in(pgdata / "postmaster.pid")
    return pid is not None and _runs_in(pid, pgdata)


def remove_stale_lock_files(pgdata: Path, socket: Path) -> None:
    """Before a start: PostgreSQL refuses to start while a lock file names any live process, even a stranger."""
    for lock_file in (pgdata / "postmaster.pid", Path(f"{socket}.lock")):
        pid = _pid_in(lock_file)
        if pid is None or _runs_in(pid, pgdata):
            continue
        log.warning("removing %s: it names process %d, which is not this cluster's server", lock_file, pid)
        lock_file.unlink(missing_ok=True)
        if lock_file.name.endswith(".lock"):
            socket.unlink(missing_ok=True)
