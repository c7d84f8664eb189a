"""What `make run`'s terminal shows: no line per request that went well, one per refused request and per job."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.eventually import eventually_blocking
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack


def test_requests_are_debug_while_errors_and_jobs_get_a_line_each() -> None:
    with tempfile.TemporaryDirectory(prefix="modelvault-log-") as folder:
        root = Path(folder)
        (root / "models").mkdir()
        port = free_port()
        log = root / "stack.log"
        process = start_stack(stack_env(root / "models", root / "data", port, MODELVAULT_AUTO_SCAN="0"), log=log)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(5):
                assert request_json(f"{base}/api/models")[0] == 200
            assert request_json(f"{base}/api/models?base_modell=Pony")[0] == 400
            assert request_json(f"{base}/api/jobs", {"kind": "scan"})[0] == 202

            def job_line() -> str | None:
                lines = [line for line in log.read_text().splitlines() if "ended done" in line]
                return lines[0] if lines else None

            assert "job 1 ended done" in eventually_blocking(job_line, 30, interval=0.2, what="the job's line")
        finally:
            stop_stack(process)
        text = log.read_text()
        assert "aiohttp.access" not in text and "GET /api/models HTTP" not in text
        refused = [line for line in text.splitlines() if "base_modell" in line]
        assert len(refused) == 1 and " INFO " in refused[0] and "400 invalid_parameter" in refused[0], refused
