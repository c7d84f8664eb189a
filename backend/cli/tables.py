"""Lists for the terminal: jobs and models as tables, one job as fields, duplicate groups with what they waste."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from backend.cli import units
from backend.cli.progress import detail
from backend.cli.report import counts


def jobs_table(jobs: list[dict[str, Any]], total: int, console: Console) -> None:
    table = Table("ID", "KIND", "STATE", "FOLDER", "PROGRESS", "STARTED", box=None, pad_edge=False)
    for job in jobs:
        folder = (job.get("params") or {}).get("folder") or "(all roots)"
        started = (job.get("started_at") or job.get("created_at") or "")[:19].replace("T", " ")
        table.add_row(str(job["id"]), job["kind"], job["state"], folder, detail({**job, "state": "ended"}), started)
    console.print(table)
    console.print(f"{len(jobs)} of {total} jobs")


def job_fields(job: dict[str, Any], console: Console) -> None:
    params = job.get("params") or {}
    took = job.get("duration_s")
    rows = [
        ("job", f"{job['id']} ({job['kind']})"),
        ("state", job["state"]),
        ("by", job.get("started_by_words") or job.get("started_by") or ""),
        ("folder", params.get("folder") or "(all roots)"),
        ("progress", detail(job)),
        ("current", job.get("current") or ""),
        ("started", job.get("started_at") or ""),
        ("finished", job.get("finished_at") or ""),
        ("took", units.duration(took) if took is not None else ""),
        ("did", job.get("summary") or counts(job.get("result"))),
        ("error", (job.get("error") or {}).get("message", "")),
    ]
    for name, value in rows:
        if value:
            console.print(f"{name + ':':<10} {value}", markup=False, highlight=False)
    problems = job.get("problems") or []
    if problems:
        console.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:", markup=False, highlight=False)
    for problem in problems:
        console.print(f"  {problem['path']}: {problem['reason']}", markup=False, highlight=False)


def duplicate_groups(groups: list[dict[str, Any]], console: Console) -> None:
    for group in groups:
        console.print(f"{units.short_hash(group['sha256'])}  {group['count']} copies of {units.size(group['size'])}"
                      f"  frees {units.size(group['wasted_bytes'])}", markup=False, highlight=False)
        for model in group["files"]:
            console.print(f"  {model['path']}", markup=False, highlight=False)


def _known(model: dict[str, Any], field: str) -> str:
    value = (model.get("metadata") or {}).get(field)
    return value if isinstance(value, str) else ""


def models_table(models: list[dict[str, Any]], console: Console) -> None:
    table = Table("NAME", "TYPE", "BASE MODEL", "SIZE", "HASH", "PATH", box=None, pad_edge=False)
    for model in models:
        name = _known(model, "model_name") or model["name"]
        version = _known(model, "version_name")
        table.add_row(f"{name} {version}".strip(), model.get("model_type") or "unknown",
                      model.get("base_model") or "unknown", units.size(model["size"]),
                      units.short_hash(model.get("sha256") or model.get("previous_sha256") or ""), model["path"])
    console.print(table)
