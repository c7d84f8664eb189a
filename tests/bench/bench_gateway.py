"""Gateway benchmark: the whole stack as `make run` starts it, loaded over HTTP from this separate process."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

import aiohttp

from tests.bench.stack_parts import p99
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

MiB = 1024 * 1024
GiB = 1024 * MiB
CLIENTS = 32
CACHED_REQUESTS = 4000
BIG_FILES, BIG_SIZE = 4, GiB
HEALTH_ROUNDS = 3


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_gateway_models", workdir / "bench_gateway_data"
    models.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # The SHA-256 pipeline, as its goals are set against hashlib's SHA-256: these files' first 8 bytes (0) make a
    # header length that fits, so the default would add an AutoV3 (its cost is bench_autov3's figure).
    process = start_stack(stack_env(models, data, port, MODELVAULT_AUTOV3="none"))
    try:
        return asyncio.run(_measure(models, f"http://127.0.0.1:{port}"))
    finally:
        stop_stack(process)
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def _write(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for index in range(size // MiB):
            out.write(index.to_bytes(8, "little") + block[8:])


async def _measure(models: Path, base: str) -> dict[str, float]:
    small = models / "cached.safetensors"
    small.write_bytes(os.urandom(MiB))
    big = [models / f"big{i}.safetensors" for i in range(BIG_FILES)]
    for path in big:
        _write(path, BIG_SIZE)
    # Flush the 4 GiB now: writeback running during the measurements would measure the disk, not us.
    os.sync()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:
        figures = await _cached(session, base, small)
        figures.update(await _single(session, base, big[0]))
        figures["loop_p99_ms_while_hashing"] = await _health_while_hashing(session, base, big)
    return figures


async def _post_sha256(session: aiohttp.ClientSession, base: str, body: dict) -> dict:
    async with session.post(f"{base}/api/models/sha256", json=body) as reply:
        reply.raise_for_status()
        return await reply.json()


async def _cached(session: aiohttp.ClientSession, base: str, model: Path) -> dict[str, float]:
    """32 clients asking for the hash of an unchanged file: the catalogue answers, nothing is read."""
    body = {"path": str(model), "pending_status": "ignore"}
    await _post_sha256(session, base, {"path": str(model), "pending_status": "pending"})
    latencies: list[float] = []
    remaining = iter(range(CACHED_REQUESTS))

    async def client() -> None:
        for _ in remaining:
            started = time.perf_counter()
            answer = await _post_sha256(session, base, body)
            latencies.append(time.perf_counter() - started)
            assert answer["cached"], answer

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return {
        "rest_cached_rps": round(CACHED_REQUESTS / elapsed, 1),
        "rest_cached_p99_ms": round(p99(latencies) * 1000, 2),
    }


async def _single(session: aiohttp.ClientSession, base: str, model: Path) -> dict[str, float]:
    """One page-cached 1 GiB file hashed through REST (force: really read) against hashlib in memory."""
    memory = model.read_bytes()  # also puts the file in the page cache
    hashlib_s = rest_s = float("inf")
    # Interleaved, best of three each: both sides see the same moments of a shared machine.
    for _ in range(3):
        started = time.perf_counter()
        hashlib.sha256(memory).hexdigest()
        hashlib_s = min(hashlib_s, time.perf_counter() - started)
        started = time.perf_counter()
        await _post_sha256(session, base, {"path": str(model), "pending_status": "ignore", "force": True})
        rest_s = min(rest_s, time.perf_counter() - started)
    del memory
    return {
        "rest_single_ratio": round(hashlib_s / rest_s, 3),
        "rest_single_gbps": round(BIG_SIZE / rest_s / 1e9, 3),
        "hashlib_gbps_gateway_run": round(BIG_SIZE / hashlib_s / 1e9, 3),
    }


async def _health_while_hashing(session: aiohttp.ClientSession, base: str, big: list[Path]) -> float:
    """GET /api/health p99 while four large files hash: hashing must never stall the gateway's loop."""
    latencies: list[float] = []
    # Rounds, so that the p99 rests on a few hundred samples rather than on the two slowest of a hundred.
    for _ in range(HEALTH_ROUNDS):
        hashing = asyncio.gather(*(
            _post_sha256(session, base, {"path": str(p), "pending_status": "ignore", "force": True}) for p in big
        ))
        while not hashing.done():
            started = time.perf_counter()
            async with session.get(f"{base}/api/health") as reply:
                assert reply.status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)
        await hashing
    return round(p99(latencies) * 1000, 2)
