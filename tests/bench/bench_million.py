"""A whole library of 1,000,000 files in dev mode: scan, rescan, and one hash job over all of it that must end
`done` (a job that long renews its leases dozens of times while it promotes: the deadlock of the issue).

Zero-byte shadow files on the page-cached disk: this measures the catalogue's own work (walk, queries, queue,
promotions), not reading.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import aiohttp

from backend.database.embedded import EmbeddedPostgres
from backend.database.migration.shadow_tree.synthetic import build_synthetic_tree
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

FILES = 1_000_000
TIMEOUT_S = 3600
POLL_S = 2.0


def run(workdir: Path) -> dict[str, object]:
    models, data = workdir / "bench_million_models", workdir / "bench_million_data"
    started = time.perf_counter()
    build_synthetic_tree(models, FILES)
    print(f"  {FILES} files made in {time.perf_counter() - started:.0f} s", flush=True)
    database = EmbeddedPostgres(workdir / "bench_million_pg")
    database.start()
    port = free_port()
    env = stack_env(models, data, port, DATABASE_URL=database.dsn, MODELVAULT_AUTO_SCAN="0", MODELVAULT_DEV="1")
    process = start_stack(env)
    try:
        return asyncio.run(_measure(f"http://127.0.0.1:{port}"))
    finally:
        stop_stack(process)
        database.stop()
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


async def _measure(base: str) -> dict[str, object]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
        scan_s, first = await _timed_post(session, f"{base}/api/models/scan", {})
        rescan_s, again = await _timed_post(session, f"{base}/api/models/scan", {})
        assert first["registered"] == FILES and again["already_pending"] == FILES, (first, again)
        started = time.perf_counter()
        _, job = await _timed_post(session, f"{base}/api/jobs", {"kind": "hash"})
        while job["state"] in ("queued", "running"):
            await asyncio.sleep(POLL_S)
            async with session.get(f"{base}/api/jobs/{job['id']}") as reply:
                job = await reply.json()
        queue_s = time.perf_counter() - started
    return {
        "scan_1m_s": round(scan_s, 1),
        "rescan_1m_s": round(rescan_s, 1),
        "queue_1m_files_per_s": round(job["files_done"] / queue_s),
        "queue_1m_state": job["state"],
        "queue_1m_files_done": job["files_done"],
        "queue_1m_error": job["error"],
    }


async def _timed_post(session: aiohttp.ClientSession, url: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    async with session.post(url, json=body) as reply:
        answer = await reply.json()
        assert reply.status in (200, 202), answer
    return time.perf_counter() - started, answer
