"""`python -m backend` with a command is the command line, not a second stack."""

from __future__ import annotations

import subprocess
import sys

from tests.stack_process import PROJECT, free_port


def test_a_command_runs_the_command_line_and_starts_nothing() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "backend", "jobs", "--url", url], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr  # the command line's "unreachable"
    assert done.stderr.startswith("modelvault: ") and url in done.stderr
