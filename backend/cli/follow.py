"""Start a job, follow its events to the end, and cancel it on Ctrl-C."""

from __future__ import annotations

import time
from typing import Any

from backend.cli import sse
from backend.cli.http import ApiClient, Refused, Unreachable
from backend.cli.progress import Display
from backend.cli.report import FINAL_STATES

# Between two tries to reach an API that went away: a restarted gateway is back within a second or a few.
RETRY_PAUSE_S = 0.5


class Cancelled(Exception):
    """Ctrl-C: the job this command started was cancelled (exit code 130)."""

    def __init__(self, job: dict[str, Any] | None) -> None:
        super().__init__("cancelled")
        self.job = job


def follow(client: ApiClient, job: dict[str, Any], display: Display, reconnect_s: float) -> dict[str, Any]:
    """The job's final state, read from GET /api/jobs/{id}/events; reconnects if a stream ends early, and keeps
    trying for reconnect_s when the API cannot be reached (a gateway restarting), then gives up (Unreachable)."""
    retry = _Retry(reconnect_s)
    while True:
        try:
            for name, data in sse.events(client.lines("GET", f"/api/jobs/{job['id']}/events")):
                retry.reached()
                display.update(data)
                if name == "done":
                    return data
            # The stream ended without its `done` (a proxy, a gateway restarting): ask where the job is.
            job = client.get(f"/api/jobs/{job['id']}")
        except Unreachable as exc:
            retry.lost(exc)
            continue
        retry.reached()
        if job["state"] in FINAL_STATES:
            return job


class _Retry:
    """How long the API has been out of reach, counted from the first failed try since it last answered."""

    def __init__(self, allowed_s: float) -> None:
        self._allowed_s = allowed_s
        self._since: float | None = None

    def reached(self) -> None:
        self._since = None

    def lost(self, failure: Unreachable) -> None:
        """Raises failure once the API has been out of reach for the allowed time; else waits before a new try."""
        now = time.monotonic()
        self._since = now if self._since is None else self._since
        if now - self._since >= self._allowed_s:
            raise failure
        time.sleep(RETRY_PAUSE_S)


def cancel(client: ApiClient, job_id: int) -> dict[str, Any] | None:
    try:
        return client.post(f"/api/jobs/{job_id}/cancel")
    except Refused:
        pass  # it ended by itself meanwhile: say how
    try:
        return client.get(f"/api/jobs/{job_id}")
    except Refused:
        return None


def run_job(client: ApiClient, body: dict[str, Any], display: Display, reconnect_s: float) -> dict[str, Any]:
    """POST /api/jobs and follow the job; Ctrl-C cancels it and raises Cancelled."""
    job = client.post("/api/jobs", body)
    try:
        return follow(client, job, display, reconnect_s)
    except KeyboardInterrupt:
        display.close()
        raise Cancelled(cancel(client, job["id"])) from None
    finally:
        display.close()
