"""A job's progress on the terminal: a rich bar on a TTY, a plain line a second otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from backend.cli import units

# Plain output is for logs and pipes: one line a second is enough to follow a job.
PLAIN_INTERVAL_S = 1.0


def time_left(job: dict[str, Any]) -> float | None:
    """Seconds left at the job's speed so far, by bytes when it knows them, else by files."""
    for done, total, speed in (("bytes_done", "bytes_total", "bytes_per_s"),
                               ("files_done", "files_total", "files_per_s")):
        if job.get(total) and job.get(speed):
            return max(0.0, (job[total] - job[done]) / job[speed])
    return None


def job_name(job: dict[str, Any]) -> str:
    """'hash job 7': every command that follows work follows a job (import too), so it has an id."""
    return f"{job['kind']} job {job['id']}"


def detail(job: dict[str, Any]) -> str:
    """'2/3 files  128.0 MiB/192.0 MiB  64.0 MiB/s  0:01 left' with what the job knows so far."""
    files = f"{job['files_done']}/{job['files_total']}" if job.get("files_total") else str(job["files_done"])
    parts = [f"{files} files"]
    if job.get("bytes_total") or job.get("bytes_done"):
        total = f"/{units.size(job['bytes_total'])}" if job.get("bytes_total") else ""
        parts.append(f"{units.size(job['bytes_done'])}{total}")
    if job.get("bytes_per_s"):
        parts.append(f"{units.size(job['bytes_per_s'])}/s")
    elif job.get("files_per_s"):
        parts.append(f"{job['files_per_s']:.1f} files/s")
    left = time_left(job)
    if left is not None and job.get("state") == "running":
        parts.append(f"{units.duration(left)} left")
    if job.get("errors"):
        parts.append(f"{job['errors']} errors")
    return "  ".join(parts)


class Display(Protocol):
    def update(self, job: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Silent:
    """For --json: nothing until the final document."""

    def update(self, job: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class PlainLines:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = (0.0, "")

    def update(self, job: dict[str, Any]) -> None:
        at, state = self._last
        now = time.monotonic()
        if state == job["state"] and now - at < PLAIN_INTERVAL_S:
            return
        self._last = (now, job["state"])
        print(f"{job_name(job)}: {job['state']}  {detail(job)}", file=self._out, flush=True)

    def close(self) -> None:
        pass


class RichBar:
    def __init__(self, out: TextIO) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
                                  console=Console(file=out))
        self._task = None
        self._progress.start()

    def update(self, job: dict[str, Any]) -> None:
        by_bytes = bool(job.get("bytes_total"))
        completed = job["bytes_done"] if by_bytes else job["files_done"]
        total = (job["bytes_total"] if by_bytes else job["files_total"]) or None
        description = job_name(job)
        if self._task is None:
            self._task = self._progress.add_task(description, total=total, detail="")
        self._progress.update(self._task, completed=completed, total=total, detail=detail(job))

    def close(self) -> None:
        self._progress.stop()


def display_for(json_output: bool, out: TextIO = sys.stdout) -> Display:
    if json_output:
        return Silent()
    return RichBar(out) if out.isatty() else PlainLines(out)
