"""Reactive migration survives a SIGKILL of the gateway after each of its steps: a restart and a new ask finish it."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from backend.database.embedded import EmbeddedPostgres
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack

CRASH_POINTS = ["promote_after_link", "promote_after_commit", "promote_after_delete"]


class Gateway:
    def __init__(self, base: str, process: subprocess.Popen) -> None:
        self.base = base
        self.process = process

    def stop(self) -> None:
        stop_stack(self.process)

    def post(self, route: str, body: dict) -> tuple[int, dict]:
        return request_json(self.base + route, body, timeout=60)

    def get(self, route: str) -> dict:
        status, body = request_json(self.base + route)
        assert status == 200, body
        return body

    def image_status(self, url: str) -> int:
        try:
            with urllib.request.urlopen(self.base + url, timeout=10) as reply:
                return reply.status
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.fixture
def run(data_dir: Path, model_root: Path, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start the whole stack (`python -m backend`) with extra settings; everything started is stopped after."""
    started = []

    def start(**extra: str) -> Gateway:
        port = free_port()
        env = stack_env(model_root, data_dir, port, MODELVAULT_DEV="1", MODELVAULT_HASHER_WORKERS="1",
                        MODELVAULT_IMAGES_WORKERS="1", **extra)
        started.append(start_stack(env, log=tmp_path / f"stack-{len(started)}.log"))
        return Gateway(f"http://127.0.0.1:{port}", started[-1])

    yield start
    for process in started:
        if process.poll() is None:
            stop_stack(process)
    EmbeddedPostgres(data_dir / "postgres").stop()


def assert_invariants(gateway: Gateway) -> None:
    """Each active row's image exists; no path is both pending and active."""
    active = gateway.get("/api/models?limit=500")["items"]
    pending = gateway.get("/api/models/pending?limit=500")["items"]
    for model in active:
        if model["image_url"] is not None:
            assert gateway.image_status(model["image_url"]) == 200, model
    assert {m["path"] for m in active} & {p["path"] for p in pending} == set()


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_gateway_killed_mid_promotion_loses_nothing(
    step: str, run: Callable[..., Gateway], model_root: Path
) -> None:
    model = model_root / "checkpoint.safetensors"
    model.write_bytes(b"weights" * 1000)
    preview = model_root / "checkpoint.png"
    Image.new("RGB", (32, 32), "blue").save(preview)
    sha = hashlib.sha256(model.read_bytes()).hexdigest()

    armed = run(MODELVAULT_CRASH_AT=step)
    assert armed.post("/api/models/pending", {"path": str(model), "preview_path": str(preview)})[0] == 201
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        armed.post("/api/models/sha256", {"path": str(model)})
    armed.stop()

    gateway = run()
    assert_invariants(gateway)
    status, answer = gateway.post("/api/models/sha256", {"path": str(model)})
    assert (status, answer["sha256"]) == (200, sha)
    assert_invariants(gateway)
    [row] = gateway.get("/api/models")["items"]
    assert (row["path"], row["image_key"]) == (str(model), f"{sha}.webp")
    assert gateway.get("/api/models/pending")["total"] == 0
