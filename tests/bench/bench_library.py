"""Library-scale benchmark: scan and rescan 100,000 shadow files through the real stack, then page a
100,000-row catalogue; the gateway's memory is sampled while it scans."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import threading
import time
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from backend.database.embedded import EmbeddedPostgres
from backend.database.migration.shadow_tree.synthetic import build_synthetic_tree
from tests.bench.stack_parts import child, cpu_s, postmaster
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

FILES = 100_000
PAGE = 100
SCAN_TIMEOUT_S = 600


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_library_models", workdir / "bench_library_data"
    build_synthetic_tree(models, FILES)
    database = EmbeddedPostgres(workdir / "bench_library_pg")
    database.start()
    port = free_port()
    env = stack_env(models, data, port, DATABASE_URL=database.dsn, MODELVAULT_AUTO_SCAN="0")
    process = start_stack(env)
    try:
        parts = {"gateway": child(process, "backend.server"), "hasher": child(process, "services.hasher"),
                 "postgres": postmaster(database)}
        return asyncio.run(_measure(f"http://127.0.0.1:{port}", database.dsn, parts))
    finally:
        stop_stack(process)
        database.stop()
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


class _PeakRss:
    """Samples a process's resident memory in a thread until stopped; keeps the highest."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _scan(session: aiohttp.ClientSession, base: str) -> tuple[float, dict]:
    started = time.perf_counter()
    async with session.post(f"{base}/api/models/scan", json={}) as reply:
        reply.raise_for_status()
        report = await reply.json()
    return time.perf_counter() - started, report


async def _measure(base: str, dsn: str, parts: dict[str, psutil.Process]) -> dict[str, object]:
    timeout = aiohttp.ClientTimeout(total=SCAN_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        before = parts["gateway"].memory_info().rss
        with _PeakRss(parts["gateway"]) as rss:
            scan_s, first = await _scan(session, base)
        cpu_before = cpu_s(parts)
        rescan_s, again = await _scan(session, base)
        cpu_after = cpu_s(parts)
        assert first["registered"] == FILES and again["already_pending"] == FILES, (first, again)
        await _insert_active_rows(dsn, FILES)
        list_before = cpu_s(parts)
        latencies = await _page_everywhere(session, base)
        list_after = cpu_s(parts)
    return {
        "scan_100k_s": round(scan_s, 2),
        "rescan_100k_s": round(rescan_s, 2),
        "rescan_100k_cpu_s": {name: round(cpu_after[name] - cpu_before[name], 2) for name in parts},
        "gateway_rss_mb_delta_100k": round((rss.peak - before) / 2**20, 1),
        "list_p99_ms_100k": round(statistics.quantiles(latencies, n=100)[98], 2),
        "list_p50_ms_100k": round(statistics.median(latencies), 2),
        "list_cpu_ms_per_page": {name: round((list_after[name] - list_before[name]) * 1000 / len(latencies), 2)
                                 for name in ("gateway", "postgres")},
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


async def _insert_active_rows(dsn: str, count: int) -> None:
    """100,000 active records written straight into PostgreSQL: the listing is measured, not the hashing."""
    def row(i: int) -> tuple:
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        path = f"/library/folder_{i % 97:03d}/model_{digest[:12]}_{i:06d}.safetensors"
        return (path, digest, (i * 7919) % 7_000_000_000, 1_700_000_000_000_000_000 + i * 1_000_000, i, 1)

    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "models", records=[row(i) for i in range(count)],
            columns=["path", "sha256", "size", "mtime_ns", "inode", "device"])
        await conn.execute("VACUUM ANALYZE models")
    finally:
        await conn.close()


async def _page_everywhere(session: aiohttp.ClientSession, base: str) -> list[float]:
    """Walk the whole catalogue page by page in three orders, and search it: every page is timed."""
    latencies: list[float] = []

    async def get(params: dict) -> dict:
        started = time.perf_counter()
        async with session.get(f"{base}/api/models", params=params) as reply:
            reply.raise_for_status()
            body = await reply.json()
        latencies.append((time.perf_counter() - started) * 1000)
        return body

    for sort, order in (("name", "asc"), ("size", "desc"), ("date", "desc")):
        params = {"limit": str(PAGE), "sort": sort, "order": order}
        body = await get(params)
        while body["next_cursor"]:
            body = await get({**params, "cursor": body["next_cursor"]})
    for word in ("model_0", "folder_042", "abc", "999"):
        await get({"q": word, "limit": str(PAGE)})
    return latencies
