"""`import`: legacy migration as a job (POST /api/jobs {"kind": "import"}), followed like scan and hash."""

from __future__ import annotations

from typing import Any

from backend.cli.follow import run_job
from backend.cli.http import ApiClient
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


def run_import(client: ApiClient, body: dict[str, Any], display: Display, reconnect_s: float) -> dict[str, Any]:
    return run_job(client, {"kind": "import", **body}, display, reconnect_s)
