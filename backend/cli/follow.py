"""Start a job, follow its events to the end, and cancel it on Ctrl-C."""

from __future__ import annotations

from typing import Any

from backend.cli import sse
from backend.cli.http import ApiClient, Refused
from backend.cli.progress import Display

FINAL_STATES = ("done", "failed", "cancelled", "interrupted")


class Cancelled(Exception):
    """Ctrl-C: the job this command started was cancelled (exit code 130)."""

    def __init__(self, job: dict[str, Any] | None) -> None:
        super().__init__("cancelled")
        self.job = job


def follow(client: ApiClient, job: dict[str, Any], display: Display) -> dict[str, Any]:
    """The job's final state, read from GET /api/jobs/{id}/events; reconnects if a stream ends early."""
    while True:
        for name, data in sse.events(client.lines("GET", f"/api/jobs/{job['id']}/events")):
            display.update(data)
            if name == "done":
                return data
        # The stream ended without its `done` (a proxy, a gateway restarting): ask where the job is.
        job = client.get(f"/api/jobs/{job['id']}")
        if job["state"] in FINAL_STATES:
            return job


def cancel(client: ApiClient, job_id: int) -> dict[str, Any] | None:
    try:
        return client.post(f"/api/jobs/{job_id}/cancel")
    except Refused:
        pass  # it ended by itself meanwhile: say how
    try:
        return client.get(f"/api/jobs/{job_id}")
    except Refused:
        return None


def run_job(client: ApiClient, body: dict[str, Any], display: Display) -> dict[str, Any]:
    """POST /api/jobs and follow the job; Ctrl-C cancels it and raises Cancelled."""
    job = client.post("/api/jobs", body)
    try:
        return follow(client, job, display)
    except KeyboardInterrupt:
        display.close()
        raise Cancelled(cancel(client, job["id"])) from None
    finally:
        display.close()
