"""Load benchmark: a fixed count of mixed requests from 64 clients against the whole stack on loopback,
with the 5xx answers counted, latencies per route, and each process's memory between the two halves."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp

from backend.database.embedded import EmbeddedPostgres
from tests.bench.stack_parts import child, cpu_s, p99, postmaster, rss_mb
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

CLIENTS = 64
REQUESTS = 6000
MODELS, PREVIEWS, PAGE = 200, 20, 25
# Route -> share of the requests; registrations each take a new file, so their count fixes the files made.
MIX = {"list": 0.34, "by_hash": 0.2, "health": 0.1, "sha256": 0.25, "pending": 0.105, "scan": 0.005}
REGISTRATIONS = round(REQUESTS * MIX["pending"]) + 1
EXPECTED = {"list": {200}, "by_hash": {200}, "health": {200}, "sha256": {200}, "pending": {200, 201},
            "scan": {200}}


def run(workdir: Path) -> dict[str, object]:
    models, data = workdir / "bench_load_models", workdir / "bench_load_data"
    known, new = _make_library(models)
    database = EmbeddedPostgres(workdir / "bench_load_pg")
    database.start()
    port = free_port()
    process = start_stack(stack_env(models, data, port, DATABASE_URL=database.dsn))
    try:
        parts = {"gateway": child(process, "backend.server"), "hasher": child(process, "services.hasher"),
                 "images": child(process, "services.images"), "postgres": postmaster(database)}
        return asyncio.run(_measure(f"http://127.0.0.1:{port}", known, new, parts))
    finally:
        stop_stack(process)
        database.stop()
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def _png(side: int, seed: int) -> bytes:
    """A real, valid RGB PNG of noise."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    rows = b"".join(b"\x00" + random.Random(seed * side + y).randbytes(side * 3) for y in range(side))
    header = side.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _make_library(models: Path) -> tuple[list[Path], list[Path]]:
    """Small model files to hash before the run (a few with side-car previews) and files to register during it."""
    (models / "known").mkdir(parents=True, exist_ok=True)
    (models / "new").mkdir(parents=True, exist_ok=True)
    known = [models / "known" / f"model_{i:03d}.safetensors" for i in range(MODELS)]
    for index, path in enumerate(known):
        path.write_bytes(os.urandom(64 * 1024))
        if index < PREVIEWS:
            path.with_suffix(".preview.png").write_bytes(_png(64, index))
    new = [models / "new" / f"fresh_{i:04d}.safetensors" for i in range(REGISTRATIONS)]
    for path in new:
        path.write_bytes(os.urandom(4096))
    return known, new


async def _hash_all(session: aiohttp.ClientSession, base: str, known: list[Path]) -> list[str]:
    """Hash the library once, so that every later sha256 request is answered from the catalogue."""
    async def one(path: Path) -> str:
        async with session.post(f"{base}/api/models/sha256", json={"path": str(path)}) as reply:
            reply.raise_for_status()
            return (await reply.json())["sha256"]
    return list(await asyncio.gather(*(one(path) for path in known)))


async def _cursors(session: aiohttp.ClientSession, base: str) -> list[str]:
    """Every page's cursor of a walk through the catalogue, so that the run asks for pages by cursor too."""
    cursors: list[str] = []
    params = {"limit": str(PAGE)}
    while True:
        async with session.get(f"{base}/api/models", params=params) as reply:
            reply.raise_for_status()
            cursor = (await reply.json())["next_cursor"]
        if cursor is None:
            return cursors
        cursors.append(cursor)
        params = {"limit": str(PAGE), "cursor": cursor}


def _plan(known: list[Path], digests: list[str], new: list[Path], cursors: list[str]) -> list[tuple]:
    """The fixed, seeded sequence of requests: (route, method, path and query, JSON body)."""
    chooser, fresh = random.Random(9), iter(new)
    words = ["model_0", "model_1", "known", "9", "zzz"]

    def request(route: str) -> tuple[str, str, str, dict | None]:
        if route == "list" and chooser.random() < 0.5:
            return route, "GET", f"/api/models?limit={PAGE}&cursor={chooser.choice(cursors)}", None
        if route == "list":
            return route, "GET", f"/api/models?limit={PAGE}&q={chooser.choice(words)}", None
        if route == "by_hash":
            return route, "GET", f"/api/models/{chooser.choice(digests)}", None
        if route == "health":
            return route, "GET", "/api/health", None
        if route == "sha256":
            return route, "POST", "/api/models/sha256", {"path": str(chooser.choice(known))}
        if route == "pending":
            return route, "POST", "/api/models/pending", {"path": str(next(fresh))}
        return route, "POST", "/api/models/scan", {"folder": str(new[0].parent)}

    routes = chooser.choices(list(MIX), weights=list(MIX.values()), k=REQUESTS)
    return [request(route) for route in routes]


class _Tally:
    """Latencies per route and the statuses no route should answer."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()

    def add(self, route: str, status: int, seconds: float) -> None:
        self.latencies[route].append(seconds * 1000)
        if status >= 500:
            self.statuses[f"{route} {status}"] += 1
            self.statuses["5xx"] += 1
        elif status not in EXPECTED[route]:
            self.statuses[f"{route} {status}"] += 1
            self.statuses["unexpected"] += 1


async def _fire(session: aiohttp.ClientSession, base: str, plan: list, tally: _Tally) -> None:
    """Send the plan's requests from CLIENTS clients at once, each taking the next request when free."""
    remaining = iter(plan)

    async def client() -> None:
        for route, method, target, body in remaining:
            started = time.perf_counter()
            async with session.request(method, base + target, json=body) as reply:
                await reply.read()
            tally.add(route, reply.status, time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def _measure(base: str, known: list[Path], new: list[Path], parts: dict) -> dict[str, object]:
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        digests = await _hash_all(session, base, known)
        plan = _plan(known, digests, new, await _cursors(session, base))
        tally, half = _Tally(), len(plan) // 2
        cpu_before, started = {**cpu_s(parts), "bench_clients": time.process_time()}, time.perf_counter()
        await _fire(session, base, plan[:half], tally)
        rss_half = rss_mb(parts)
        await _fire(session, base, plan[half:], tally)
        elapsed, rss_end = time.perf_counter() - started, rss_mb(parts)
        cpu_after = {**cpu_s(parts), "bench_clients": time.process_time()}
    everything = [ms for samples in tally.latencies.values() for ms in samples]
    return {
        "load_requests": len(everything),
        "load_5xx": tally.statuses["5xx"],
        "load_unexpected": tally.statuses["unexpected"],
        "load_unexpected_by_status": {k: v for k, v in tally.statuses.items() if " " in k},
        "load_p50_ms": round(statistics.median(everything), 1),
        "load_p99_ms": round(p99(everything), 1),
        "load_p99_ms_by_route": {route: round(p99(ms), 1) for route, ms in sorted(tally.latencies.items())},
        "load_p50_ms_by_route": {route: round(statistics.median(ms), 1)
                                 for route, ms in sorted(tally.latencies.items())},
        "load_rps": round(len(everything) / elapsed, 1),
        # CPU seconds of each part during the run: with the wall time, who had the two cores.
        "load_cpu_s": {name: round(cpu_after[name] - cpu_before[name], 1) for name in cpu_after},
        "load_wall_s": round(elapsed, 1),
        "load_rss_mb_delta_second_half": {name: round(rss_end[name] - rss_half[name], 1) for name in parts},
    }
