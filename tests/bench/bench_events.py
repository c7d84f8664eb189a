"""Catalogue events benchmark: a change seen by 50 open pages (GET /api/events), from the request that made it.

Each change is a scan job started over an empty folder: its start is told to every stream. The figure includes
the gathering window (FLUSH_S) by design: a burst is one batch, so no change is sent sooner.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import time
from pathlib import Path

import aiohttp

from tests.bench.stack_parts import p99
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

STREAMS = 50
CHANGES = 40


def run(workdir: Path) -> dict[str, float]:
    folder = workdir / "bench_events"
    models, data = folder / "models", folder / "data"
    (models / "empty").mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = start_stack(stack_env(models, data, port, MODELVAULT_AUTO_SCAN="0"))
    try:
        return asyncio.run(_measure(f"http://127.0.0.1:{port}", port, str(models / "empty")))
    finally:
        stop_stack(process)
        shutil.rmtree(folder, ignore_errors=True)


async def _measure(base: str, port: int, empty: str) -> dict[str, float]:
    seen: list[dict[int, float]] = [{} for _ in range(STREAMS)]
    streams = [await _open(port) for _ in range(STREAMS)]
    readers = [asyncio.create_task(_read(reader, seen[i])) for i, (reader, _) in enumerate(streams)]
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(CHANGES):
            started = time.perf_counter()
            async with session.post(f"{base}/api/jobs", json={"kind": "scan", "folder": empty}) as reply:
                job_id = (await reply.json())["id"]
            deadline = time.monotonic() + 30
            while not all(job_id in arrived for arrived in seen) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            latencies += [arrived[job_id] - started for arrived in seen if job_id in arrived]
            await _until_done(session, base, job_id)
    for task in readers:
        task.cancel()
    for _, writer in streams:
        writer.close()
    missed = CHANGES * STREAMS - len(latencies)
    return {
        "events_fanout_ms": round(p99(latencies) * 1000, 1),
        "events_fanout_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "events_missed": missed,
    }


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def _read(reader: asyncio.StreamReader, arrived: dict[int, float]) -> None:
    """Note when each job's start reached this stream (chunked framing lines are skipped: not `data:`)."""
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"data: {\"events\""):
            now = time.perf_counter()
            for event in json.loads(line[len(b"data: "):])["events"]:
                if event["type"] == "job" and event["state"] == "queued":
                    arrived.setdefault(event["id"], now)


async def _until_done(session: aiohttp.ClientSession, base: str, job_id: int) -> None:
    for _ in range(600):
        async with session.get(f"{base}/api/jobs/{job_id}") as reply:
            if (await reply.json())["state"] not in ("queued", "running"):
                return
        await asyncio.sleep(0.05)
