"""`make run`'s supervisor as a user runs it: the whole stack comes up, keeps its data, and leaves nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psutil

from backend.database.embedded import EmbeddedPostgres
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack


def test_run_serves_stops_cleanly_and_finds_its_data_again(data_dir: Path, model_root: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(model_root, data_dir, port, MODELVAULT_HASHER_WORKERS="1", MODELVAULT_IMAGES_WORKERS="1")
    model = model_root / "kept.safetensors"
    model.write_bytes(b"a model that outlives a restart")

    process = start_stack(env)
    status, body = request_json(f"{base}/api/models/sha256", {"path": str(model), "pending_status": "pending"})
    assert status == 200 and body["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    family = psutil.Process(process.pid).children(recursive=True)
    assert stop_stack(process) == 0

    assert len(family) >= 3, family  # hasher, images, gateway (and their workers)
    _, alive = psutil.wait_procs(family, timeout=5)
    assert alive == [], f"left running: {alive}"
    assert not EmbeddedPostgres(data_dir / "postgres").is_running()

    process = start_stack(env)
    try:
        status, body = request_json(f"{base}/api/models")
        assert status == 200 and [item["path"] for item in body["items"]] == [str(model)]
        status, body = request_json(f"{base}/api/models/sha256", {"path": str(model)})
        assert body["cached"] is True
    finally:
        assert stop_stack(process) == 0
