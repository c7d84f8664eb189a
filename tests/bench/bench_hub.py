"""Hub look-up benchmark: 10,000 catalogued contents asked of a local fake hub that answers at once.

The figure is ModelVault's own cost per look-up (batches of 100, matching, storing fields and states), with the
rate limit raised out of the way; against Civitai the configured rate (1 request a second) decides.
Run alone: `python -m tests.bench hub` (or `make bench BENCH=hub`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from tests.integration.fake_hub import FakeHub, hub_running, version
from tests.stack_process import free_port, request_json, stack_env, start_stack, stop_stack

FILES = 10_000
# Half of them are on the hub; the other half is answered "not found" (absent from the bulk answer).
KNOWN_EVERY = 2


class HubThread:
    """The fake hub on its own event loop, beside the benchmark's blocking calls."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with hub_running(self.hub):
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> FakeHub:
        self._thread.start()
        self._ready.wait(30)
        return self.hub

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_hub_models", workdir / "bench_hub_data"
    hashes = _library(models)
    hub = FakeHub(versions=[version(sha256, version_id=i + 1, model_id=i + 1)
                            for i, sha256 in enumerate(hashes) if i % KNOWN_EVERY == 0])
    with HubThread(hub):
        port = free_port()
        process = start_stack(stack_env(models, data, port, MODELVAULT_HUB_URL=hub.url,
                                        MODELVAULT_HUB_REQUESTS_PER_S="100000"))
        base = f"http://127.0.0.1:{port}"
        try:
            for kind in ("scan", "hash"):
                _job(base, {"kind": kind})
            started = time.perf_counter()
            job = _job(base, {"kind": "hub"})
            seconds = time.perf_counter() - started
        finally:
            stop_stack(process)
            shutil.rmtree(models, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
    result = job["result"]
    if job["state"] != "done" or (result["found"], result["not_found"]) != (FILES // KNOWN_EVERY,) * 2:
        raise RuntimeError(f"the hub job did not look every content up: {json.dumps(job)[:500]}")
    return {"hub_lookups_per_s": round(FILES / seconds, 1)}


def _job(base: str, body: dict[str, Any]) -> dict[str, Any]:
    status, job = request_json(f"{base}/api/jobs", body)
    if status != 202:
        raise RuntimeError(f"{body['kind']} job refused: {status} {job}")
    while job["state"] in ("queued", "running"):
        time.sleep(0.1)
        job = request_json(f"{base}/api/jobs/{job['id']}")[1]
    return job


def _library(models: Path) -> list[str]:
    """Small distinct model files (their reading is not what is measured); their SHA-256s."""
    hashes = []
    for index in range(FILES):
        content = b"hub bench %d" % index
        model = models / f"{index % 50:02d}" / f"model_{index}.safetensors"
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(content)
        hashes.append(hashlib.sha256(content).hexdigest())
    return hashes
