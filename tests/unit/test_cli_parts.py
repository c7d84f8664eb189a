"""The command line's pure parts: reading SSE, the words of a summary, and staying a client of the API only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.cli import sse, units
from backend.cli.args import parse
from backend.cli.progress import detail, time_left
from backend.cli.report import counts, exit_code

CLI = Path(__file__).resolve().parents[2] / "backend" / "cli"


def test_sse_events_are_read_with_their_names_and_json_data() -> None:
    lines = [": keep-alive", "event: progress", 'data: {"state": "running"}', "", "event: done",
             'data: {"state":', 'data: "done"}', ""]
    assert list(sse.events(lines)) == [("progress", {"state": "running"}), ("done", {"state": "done"})]


def test_a_summary_counts_what_happened_and_leaves_out_what_did_not() -> None:
    result = {"found": 3, "registered": 3, "unchanged": 0, "errors": [{"path": "/m/x", "message": "gone"}],
              "missing_paths": ["/m/y"], "missing": 1, "dry_run": True}
    assert counts(result) == "found 3, registered 3, errors 1, missing 1"
    assert counts({"hashed": [{}], "hashed_count": 1, "error_count": 2, "errors": [{}, {}]}) == "hashed 1, errors 2"


def test_time_left_uses_bytes_when_known_and_files_otherwise() -> None:
    by_bytes = {"bytes_done": 100, "bytes_total": 300, "bytes_per_s": 50.0, "files_done": 1, "files_total": 2,
                "files_per_s": 1.0, "state": "running", "errors": 0}
    assert time_left(by_bytes) == 4.0
    assert detail(by_bytes) == "1/2 files  100 B/300 B  50 B/s  0:04 left"
    by_files = {**by_bytes, "bytes_total": 0, "bytes_done": 0, "bytes_per_s": 0.0}
    assert time_left(by_files) == 1.0
    assert time_left({**by_files, "files_per_s": 0.0}) is None


@pytest.mark.parametrize(("state", "code"), [("done", 0), ("failed", 1), ("interrupted", 1), ("cancelled", 130)])
def test_exit_codes_follow_the_jobs_end(state: str, code: int) -> None:
    assert exit_code({"state": state}) == code


def test_sizes_and_durations_read_as_words() -> None:
    assert [units.size(v) for v in (0, 1023, 1024, 3 * 1024**3)] == ["0 B", "1023 B", "1.0 KiB", "3.0 GiB"]
    assert [units.duration(s) for s in (0, 61.4, 3725)] == ["0:00", "1:01", "1:02:05"]


def test_options_come_from_flags_before_or_after_the_command_and_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("MODELVAULT_URL", "http://nas:8080")
    monkeypatch.setenv("MODELVAULT_API_TOKEN", "from-env")
    options = parse(["hash", "--limit", "5", "--json"])
    assert (options.url, options.token, options.json, options.limit) == ("http://nas:8080", "from-env", True, 5)
    assert parse(["--url", "http://other:1", "scan"]).url == "http://other:1"
    with pytest.raises(SystemExit) as usage:
        parse(["--url", "nas:8080", "jobs"])
    assert usage.value.code == 2


def test_the_command_line_is_a_client_of_the_api_only() -> None:
    """It must work against compose: it may import itself, never the server, database or services."""
    for module in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("backend.", "services")) or name.startswith("backend.cli"), \
                    f"{module.name} imports {name}"
