"""Header benchmark: the `headers` job over 10,000 real small safetensors LoRAs (kohya keys and metadata).

Run alone: `python -m tests.bench headers` (or `make bench BENCH=headers`).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import aiohttp

from tests.model_layouts import kohya_lora, kohya_metadata, write_safetensors
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

FILES = 10_000


def run(workdir: Path) -> dict[str, float]:
    folder = workdir / "bench_headers"
    models, data = folder / "models", folder / "data"
    _library(models)
    port = free_port()
    process = start_stack(stack_env(models, data, port))
    try:
        return asyncio.run(_measure(f"http://127.0.0.1:{port}"))
    finally:
        stop_stack(process)
        shutil.rmtree(folder, ignore_errors=True)


def _library(models: Path) -> None:
    """SD 1.x LoRAs of a few KB each, every one its own content (its output name differs)."""
    shapes = kohya_lora(768, rank=8)
    for index in range(FILES):
        write_safetensors(models / f"{index % 100:02d}" / f"lora_{index:05d}.safetensors", shapes,
                          kohya_metadata(ss_output_name=f"lora_{index}"))


async def _job(session: aiohttp.ClientSession, base: str, body: dict) -> dict:
    async with session.post(f"{base}/api/jobs", json=body) as reply:
        assert reply.status == 202, await reply.text()
        job = await reply.json()
    while job["state"] in ("queued", "running"):
        await asyncio.sleep(0.05)
        async with session.get(f"{base}/api/jobs/{job['id']}") as reply:
            job = await reply.json()
    assert job["state"] == "done", job
    return job


async def _measure(base: str) -> dict[str, float]:
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(f"{base}/api/models/scan", json={}) as reply:
            assert reply.status == 200, await reply.text()
        hashed = await _job(session, base, {"kind": "hash"})
        assert hashed["files_done"] == FILES, hashed
        started = time.perf_counter()
        job = await _job(session, base, {"kind": "headers"})
        elapsed = time.perf_counter() - started
    assert job["result"]["read"] == FILES and job["result"]["header_errors"] == 0, job["result"]
    return {"header_files_per_s": round(FILES / elapsed, 1)}
