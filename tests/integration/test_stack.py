"""`make run`'s supervisor as a user runs it: the whole stack comes up, keeps its data, and leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from backend.database.embedded import EmbeddedPostgres

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _start(env: dict[str, str], base: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "backend"], env=env, cwd=PROJECT,
                               stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the stack exited with {process.returncode}"
        try:
            if _request(f"{base}/api/health")[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail("the stack did not become healthy within 60 s")


def _stop(process: subprocess.Popen) -> list[psutil.Process]:
    family = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    return family


def test_run_serves_stops_cleanly_and_finds_its_data_again(tmp_path: Path, model_root: Path) -> None:
    data_dir = tmp_path / "stack-data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'protos'}",
        "MODELVAULT_MODEL_ROOTS": str(model_root),
        "MODELVAULT_DATA_DIR": str(data_dir),
        "MODELVAULT_HTTP_PORT": str(port),
        "MODELVAULT_HASHER_LISTEN": "127.0.0.1:0",
        "MODELVAULT_IMAGES_LISTEN": "127.0.0.1:0",
        "MODELVAULT_HASHER_WORKERS": "1",
        "MODELVAULT_IMAGES_WORKERS": "1",
    }
    model = model_root / "kept.safetensors"
    model.write_bytes(b"a model that outlives a restart")

    process = _start(env, base)
    status, body = _request(f"{base}/api/models/sha256", {"path": str(model), "pending_status": "pending"})
    assert status == 200 and body["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    family = _stop(process)

    assert len(family) >= 3, family  # hasher, images, gateway (and their workers)
    gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == [], f"left running: {alive}"
    assert not EmbeddedPostgres(data_dir / "postgres").is_running()

    process = _start(env, base)
    try:
        status, body = _request(f"{base}/api/models")
        assert status == 200 and [item["path"] for item in body["items"]] == [str(model)]
        status, body = _request(f"{base}/api/models/sha256", {"path": str(model)})
        assert body["cached"] is True
    finally:
        _stop(process)
