"""What each job command asks the API for: the body of POST /api/jobs, from the command line's words."""

from __future__ import annotations

from backend.cli.args import parse
from backend.cli.commands import job_body


def test_import_sends_its_options_and_nothing_it_was_not_given() -> None:
    assert job_body(parse(["import"])) == {"kind": "import"}
    assert job_body(parse(["import", "--folder", "/models/Lora", "--a1111-root", "/webui", "--a1111-root", "/forge",
                           "--dry-run", "--verify"])) == {
        "kind": "import", "folder": "/models/Lora", "a1111_root": ["/webui", "/forge"], "dry_run": True,
        "verify": True}


def test_each_kind_sends_only_its_own_options() -> None:
    assert job_body(parse(["scan", "--prune"])) == {"kind": "scan", "prune": True}
    assert job_body(parse(["hash", "--limit", "5", "--folder", "/m"])) == {"kind": "hash", "folder": "/m", "limit": 5}
    assert job_body(parse(["hub", "--refresh"])) == {"kind": "hub", "refresh": True}
