"""`import`: a job where the gateway runs imports as jobs, else POST /api/models/import with NDJSON progress."""

from __future__ import annotations

import json
from typing import Any

from backend.cli.follow import Cancelled, run_job
from backend.cli.http import ApiClient, Refused
from backend.cli.progress import Display


def import_body(folder: str | None, a1111_roots: list[str], dry_run: bool, verify: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if folder:
        body["folder"] = folder
    if a1111_roots:
        body["a1111_root"] = a1111_roots
    if dry_run:
        body["dry_run"] = True
    if verify:
        body["verify"] = True
    return body


def _kind_unknown(exc: Refused) -> bool:
    return exc.status == 400 and "'kind'" in str(exc)


def run_import(client: ApiClient, body: dict[str, Any], display: Display) -> dict[str, Any]:
    try:
        return run_job(client, {"kind": "import", **body}, display)
    except Refused as exc:
        if not _kind_unknown(exc):
            raise
    return _streamed_import(client, body, display)


def _streamed_import(client: ApiClient, body: dict[str, Any], display: Display) -> dict[str, Any]:
    """The import as one streamed request, shown as a job would be; the gateway finishes it even on Ctrl-C."""
    job: dict[str, Any] = {"id": None, "kind": "import", "state": "running", "files_done": 0, "files_total": 0,
                           "bytes_done": 0, "bytes_total": 0, "errors": 0, "files_per_s": 0, "bytes_per_s": 0,
                           "started_at": None, "finished_at": None, "result": None, "error": None}
    try:
        for line in client.lines("POST", "/api/models/import", {**body, "progress": True}):
            if not line:
                continue
            message = json.loads(line)
            if "progress" in message:
                progress = message["progress"]
                job.update(files_done=progress.get("files_done", 0), files_total=progress.get("files_total", 0),
                           current=progress.get("path"))
                display.update(job)
            elif "error" in message:
                job.update(state="failed", error=message["error"])
            else:
                job.update(state="done", result=message)
    except KeyboardInterrupt:
        raise Cancelled(None) from None
    finally:
        display.close()
    return job
