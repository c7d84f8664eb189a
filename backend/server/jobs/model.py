"""A job row as the API shows it, with its speed computed from the row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from asyncpg import Record

from backend.database.jobs_queries import LIVE_STATES
from backend.server.jobs.story import STARTERS, problems, summary


@dataclass
class Outcome:
    """How a job's task ended, for a caller in the same gateway that waits for it."""

    state: str
    result: dict[str, Any] | None = None
    error: BaseException | None = field(default=None, repr=False)


def is_live(row: Record) -> bool:
    return row["state"] in LIVE_STATES


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(row: Record) -> dict[str, Any]:
    started, finished = row["started_at"], row["finished_at"]
    # Speeds over the job's running time so far (the database's clock, like the timestamps).
    elapsed = ((finished or row["observed_at"]) - started).total_seconds() if started is not None else 0.0
    error = {"code": row["error_code"], "message": row["error"]} if row["error"] is not None else None
    result = json.loads(row["result"]) if row["result"] is not None else None
    return {
        "id": row["id"],
        "kind": row["kind"],
        "params": json.loads(row["params"]),
        "state": row["state"],
        "files_done": row["files_done"],
        "files_total": row["files_total"],
        "bytes_done": row["bytes_done"],
        "bytes_total": row["bytes_total"],
        "errors": row["errors"],
        "current": row["current"],
        "files_per_s": round(row["files_done"] / elapsed, 2) if elapsed > 0 else 0.0,
        "bytes_per_s": round(row["bytes_done"] / elapsed, 1) if elapsed > 0 else 0.0,
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "result": result,
        "error": error,
        "started_by": row["started_by"],
        "started_by_words": STARTERS.get(row["started_by"], row["started_by"]),
        "duration_s": round(elapsed, 3) if started is not None else None,
        "summary": summary(row["kind"], row["state"], result, error),
        "problems": problems(result),
    }
