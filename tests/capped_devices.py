"""Slow disks on demand: loop devices on image files, each capped by a blkio (cgroup v1) read limit."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

BLKIO = Path("/sys/fs/cgroup/blkio")
T = TypeVar("T")


def devices_missing() -> str | None:
    """Why capped loop devices cannot be made here, or None."""
    if os.geteuid() != 0:
        return "not root: no loop devices or blkio limits"
    if not (BLKIO / "blkio.throttle.read_bps_device").exists():
        return f"no cgroup v1 blkio throttle at {BLKIO}"
    for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


class CappedLoopDevices:
    """`count` loop devices with an ext4 each, mounted, read at most `cap` bytes/s by the cgroup's processes."""

    def __init__(self, folder: Path, count: int, size: int, cap: int) -> None:
        self._folder, self._count, self._size, self._cap = folder, count, size, cap
        self._devices: list[str] = []
        self.mounts: list[Path] = []
        self._cgroup = BLKIO / f"modelvault-bench-{os.getpid()}"

    def __enter__(self) -> CappedLoopDevices:
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._cgroup.mkdir()
            for index in range(self._count):
                image = self._folder / f"disk{index}.img"
                with image.open("wb") as f:
                    f.truncate(self._size)
                # Direct I/O: the image file's own page cache would otherwise keep a second copy of every byte.
                device = _run("losetup", "--find", "--show", "--direct-io=on", str(image))
                self._devices.append(device)
                _run("mkfs.ext4", "-q", "-F", device)
                mount = self._folder / f"mnt{index}"
                mount.mkdir()
                _run("mount", device, str(mount))
                self.mounts.append(mount)
                major, minor = (int(x) for x in _run("lsblk", "-dno", "MAJ:MIN", device).split(":"))
                (self._cgroup / "blkio.throttle.read_bps_device").write_text(f"{major}:{minor} {self._cap}\n")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start_capped(self, start: Callable[[], T]) -> T:
        """Run start() (which starts processes) inside the capped cgroup: its children stay there, we leave."""
        own = _own_cgroup()
        (self._cgroup / "cgroup.procs").write_text(str(os.getpid()))
        try:
            return start()
        finally:
            (own / "cgroup.procs").write_text(str(os.getpid()))

    def __exit__(self, *_exc) -> None:
        for mount in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(mount)], check=False)
        for device in reversed(self._devices):
            subprocess.run(["losetup", "-d", device], check=False)
        if self._cgroup.exists():
            # What started inside and lives on (multiprocessing's resource tracker) leaves the cap with us.
            own = _own_cgroup() / "cgroup.procs"
            for pid in (self._cgroup / "cgroup.procs").read_text().split():
                try:
                    own.write_text(pid)
                except OSError:
                    pass  # it has just exited
            try:
                self._cgroup.rmdir()
            except OSError:
                pass  # a process still exiting; an empty cgroup costs nothing
        shutil.rmtree(self._folder, ignore_errors=True)


def _own_cgroup() -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "blkio" in controllers.split(","):
            return BLKIO / path.lstrip("/")
    return BLKIO


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
