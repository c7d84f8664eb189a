"""Event stream benchmark: 2,000 idle streams open on one running job, and /api/health's latency meanwhile.

The job hashes one huge sparse file with the hasher's one worker stopped (SIGSTOP): it stays `running`
with nothing new to say, so its streams are idle. An idle stream must cost the gateway nothing per tick.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import signal
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import psutil

from tests.bench.stack_parts import child, p99, rss_mb
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

GiB = 1024 ** 3
STREAMS = 2000
HEALTH_REQUESTS = 400
# Streams opened at once: the gateway's listen backlog (128) must not overflow while they connect.
OPENING = 64


def run(workdir: Path) -> dict[str, float]:
    folder = workdir / "bench_streams"
    models, data = folder / "models", folder / "data"
    models.mkdir(parents=True, exist_ok=True)
    _raise_file_limit(2 * STREAMS + 1000)  # the stack inherits it: it holds the other end of each stream
    port = free_port()
    env = stack_env(models, data, port, MODELVAULT_HASHER_WORKERS="1",
                    MODELVAULT_MAX_EVENT_STREAMS=str(STREAMS + 100))
    process = start_stack(env)
    try:
        return asyncio.run(_measure(process, models, f"http://127.0.0.1:{port}", port))
    finally:
        stop_stack(process)
        shutil.rmtree(folder, ignore_errors=True)


def _raise_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


@contextmanager
def _frozen(processes: list[psutil.Process]):
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)


async def _measure(stack, models: Path, base: str, port: int) -> dict[str, float]:
    model = models / "huge.safetensors"
    with model.open("wb") as out:
        out.truncate(512 * GiB)  # sparse: hours of reading, no disk used
    gateway = child(stack, "backend.server")
    async with aiohttp.ClientSession() as session:
        baseline = await _health_latencies(session, base)
        async with session.post(f"{base}/api/models/pending", json={"path": str(model)}) as reply:
            assert reply.status == 201, await reply.text()
        async with session.post(f"{base}/api/jobs", json={"kind": "hash"}) as reply:
            job_id = (await reply.json())["id"]
        await _until_reading(session, base, job_id)
        workers = child(stack, "services.hasher").children(recursive=True)
        with _frozen(workers):
            rss_before = rss_mb({"gateway": gateway})["gateway"]
            streams = await _open_streams(port, job_id)
            rss_after = rss_mb({"gateway": gateway})["gateway"]
            await asyncio.sleep(2)  # several ticks of the old 4-a-second polling, for the streams to settle
            idle = await _health_latencies(session, base)
            for _, writer in streams:
                writer.close()
        async with session.post(f"{base}/api/jobs/{job_id}/cancel") as reply:
            assert (await reply.json())["state"] == "cancelled"
    return {
        "sse_idle_2000_health_p99_ms": round(p99(idle) * 1000, 2),
        "sse_idle_2000_health_p50_ms": round(statistics.median(idle) * 1000, 2),
        "sse_none_health_p99_ms": round(p99(baseline) * 1000, 2),
        "sse_idle_2000_gateway_rss_mb_delta": round(rss_after - rss_before, 1),
    }


async def _until_reading(session: aiohttp.ClientSession, base: str, job_id: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session.get(f"{base}/api/jobs/{job_id}") as reply:
            body = await reply.json()
        if body["state"] == "running" and body["bytes_done"] > 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"job {job_id} did not start reading: {body}")


async def _open_streams(port: int, job_id: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """STREAMS raw connections, each past its headers and first event: open, then idle."""
    request = f"GET /api/jobs/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    gate = asyncio.Semaphore(OPENING)

    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            await reader.readuntil(b"\n\n")  # the job's state, the stream's first event
            return reader, writer

    return await asyncio.gather(*(one() for _ in range(STREAMS)))


async def _health_latencies(session: aiohttp.ClientSession, base: str) -> list[float]:
    latencies = []
    for _ in range(HEALTH_REQUESTS):
        started = time.perf_counter()
        async with session.get(f"{base}/api/health") as reply:
            assert reply.status == 200
            await reply.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return latencies
