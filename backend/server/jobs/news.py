"""What a job's start and end tell the stream of catalogue changes: the job itself, and the models it changed."""

from __future__ import annotations

from typing import Any

# From each kind's result: how many models it added, changed, moved and removed (see their reports).
_MODEL_COUNTS = {
    "scan": {"added": ("imported",), "changed": ("changed_count", "previews_changed"), "moved": ("recognised",),
             "removed": ("pruned",), "pending": ("registered", "pending_removed")},
    "hash": {"added": ("hashed_count",)},
    "import": {"added": ("trusted",), "pending": ("pending",), "changed": ("metadata",)},
    "headers": {"changed": ("read", "previews")},
    "hub": {"changed": ("found", "previews")},
}


def job_changed(job_id: int, kind: str, state: str, started_by: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "job", "id": job_id, "kind": kind, "state": state}
    if started_by is not None:
        event["started_by"] = started_by
    return event


def models_changed(job_id: int, kind: str, result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The models a finished job changed, as counts; None when it changed none."""
    if not isinstance(result, dict) or kind not in _MODEL_COUNTS:
        return None
    counts = {what: sum(value for name in fields
                        if isinstance(value := result.get(name), int) and not isinstance(value, bool))
              for what, fields in _MODEL_COUNTS[kind].items()}
    if not any(counts.values()):
        return None
    return {"type": "models", "job_id": job_id, **counts}
