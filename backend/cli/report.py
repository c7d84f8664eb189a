"""What a finished job did, in one summary line and a few lines of errors, never as raw JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO

from backend.cli import units
from backend.cli.progress import detail, job_name

# A summary names the first few failures; the rest are counted (`jobs show ID --json` has them all).
ERRORS_SHOWN = 10
# Counters whose names read badly once "_count" is gone.
_LABELS = {"error_count": "errors"}
# The states a job ends in, each with its exit code; a job in any other state is still live.
EXIT_BY_STATE = {"done": 0, "cancelled": 130, "failed": 1, "interrupted": 1}
FINAL_STATES = tuple(EXIT_BY_STATE)


def exit_code(job: dict[str, Any]) -> int:
    return EXIT_BY_STATE.get(job["state"], 1)


def elapsed(job: dict[str, Any]) -> float | None:
    if not job.get("started_at") or not job.get("finished_at"):
        return None
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def counts(result: dict[str, Any] | None) -> str:
    """'found 3, registered 3' from a job's result: its non-zero numbers, and its non-empty lists as lengths."""
    words = []
    for name, value in (result or {}).items():
        label = _LABELS.get(name, name.removesuffix("_count").replace("_", " "))
        if isinstance(value, bool) or not value:
            continue  # a parameter echoed back (dry_run), or nothing of that sort happened
        if isinstance(value, int):
            words.append(f"{label} {value}")
        elif isinstance(value, list) and f"{name.rstrip('s')}_count" not in result and name != "missing_paths":
            words.append(f"{label} {len(value)}")
    return ", ".join(words)


def summary(job: dict[str, Any]) -> str:
    took = elapsed(job)
    head = f"{job_name(job)} {job['state']}"
    if took is not None:
        head += f" in {units.duration(took)}"
    line = f"{head}: {detail({**job, 'state': 'ended'})}"
    found = counts(job.get("result"))
    return f"{line}; {found}" if found else line


def failures(result: dict[str, Any] | None) -> list[str]:
    listed = (result or {}).get("errors") or []
    lines = [f"  {error.get('path', '?')}: {error.get('message') or error.get('code', 'error')}"
             for error in listed[:ERRORS_SHOWN] if isinstance(error, dict)]
    if len(listed) > ERRORS_SHOWN:
        lines.append(f"  ... and {len(listed) - ERRORS_SHOWN} more")
    return lines


def print_outcome(job: dict[str, Any], out: TextIO, err: TextIO) -> None:
    print(summary(job), file=out)
    for line in failures(job.get("result")):
        print(line, file=out)
    error = job.get("error")
    if error:
        print(f"modelvault: {job_name(job)} {job['state']}: {error.get('message', error)}", file=err)
