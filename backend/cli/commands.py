"""What each command does, over the API; each returns the process's exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from backend.cli import tables, units
from backend.cli.follow import run_job
from backend.cli.http import ApiClient
from backend.cli.progress import display_for
from backend.cli.report import exit_code, print_outcome

# Duplicates are read a page at a time; the API allows pages of at most this many groups.
DUPLICATES_PAGE = 200
# The API's largest page of models.
FIND_PAGE = 1000


def _console() -> Console:
    # Piped output is for scripts and logs: no wrapping at 80 columns, no colours.
    return Console() if sys.stdout.isatty() else Console(width=1000, no_color=True)


def _finish(job: dict[str, Any], options: argparse.Namespace) -> int:
    if options.json:
        print(json.dumps(job))
    else:
        print_outcome(job, sys.stdout, sys.stderr)
    return exit_code(job)


def job_body(options: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": options.command}
    if options.folder:
        body["folder"] = options.folder
    if options.command == "scan" and options.prune:
        body["prune"] = True
    if options.command == "hash" and options.limit:
        body["limit"] = options.limit
    if options.command == "hub" and options.refresh:
        body["refresh"] = True
    if options.command == "import":
        # Legacy migration is a job like the others: these are its options (POST /api/jobs {"kind": "import"}).
        if options.a1111_root:
            body["a1111_root"] = options.a1111_root
        if options.dry_run:
            body["dry_run"] = True
        if options.verify:
            body["verify"] = True
    return body


def start_and_follow(client: ApiClient, options: argparse.Namespace) -> int:
    return _finish(run_job(client, job_body(options), display_for(options.json), options.reconnect), options)


def jobs(client: ApiClient, options: argparse.Namespace) -> int:
    if options.action == "show":
        job = client.get(f"/api/jobs/{options.id}")
    elif options.action == "cancel":
        job = client.post(f"/api/jobs/{options.id}/cancel")
    else:
        page = client.get("/api/jobs", limit=options.limit)
        if options.json:
            print(json.dumps(page))
        else:
            tables.jobs_table(page["items"], page["total"], _console())
        return 0
    if options.json:
        print(json.dumps(job))
    else:
        tables.job_fields(job, _console())
    return 0


def _all_duplicates(client: ApiClient) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    while True:
        page = client.get("/api/models/duplicates", limit=DUPLICATES_PAGE, offset=len(groups))
        groups.extend(page["groups"])
        if not page["groups"] or len(groups) >= page["total_groups"]:
            return {"groups": groups, "total_groups": page["total_groups"], "wasted_bytes": page["wasted_bytes"]}


def duplicates(client: ApiClient, options: argparse.Namespace) -> int:
    found = _all_duplicates(client)
    if options.json:
        print(json.dumps(found))
        return 0
    console = _console()
    tables.duplicate_groups(found["groups"], console)
    count = found["total_groups"]
    console.print(f"{count} group{'s' if count != 1 else ''} of duplicates; "
                  f"removing the extra copies would free {units.size(found['wasted_bytes'])}",
                  markup=False, highlight=False)
    return 0


def find(client: ApiClient, options: argparse.Namespace) -> int:
    found = client.get("/api/models", q=options.text, model_type=options.model_type, base_model=options.base_model,
                       limit=min(options.limit, FIND_PAGE), sort="name")
    if options.json:
        print(json.dumps(found))
        return 0
    console = _console()
    tables.models_table(found["items"], console)
    total = found["total"]
    of = f"{total:,}" if found["total_exact"] else f"{total:,}+"  # at least that many
    console.print(f"{len(found['items'])} of {of} model{'s' if total != 1 else ''} match {options.text!r}",
                  markup=False, highlight=False)
    return 0


COMMANDS = {"scan": start_and_follow, "hash": start_and_follow, "import": start_and_follow, "hub": start_and_follow,
            "jobs": jobs, "duplicates": duplicates, "find": find}
