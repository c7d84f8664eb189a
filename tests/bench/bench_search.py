"""Search benchmark: a 100,000-model catalogue with what the hub and headers say of each, searched through the
gateway by name, version, trigger word, base model, folder, file name and pasted hash, with and without filters."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

import aiohttp
import asyncpg

from backend.database.embedded import EmbeddedPostgres
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

MODELS = 100_000
PAGE = 60  # the page's page size
ROUNDS = 3
_WORDS = ("dragon", "castle", "neon", "forest", "samurai", "robot", "ocean", "pixel", "anime", "portrait",
          "cinematic", "lineart", "watercolor", "cyberpunk", "fantasy", "retro", "vintage", "sketch", "gothic")
_BASES = ("SDXL 1.0", "Pony", "SD 1.5", "Illustrious", "Flux.1 D")
_TYPES = ("LORA", "Checkpoint", "TextualInversion", "LoCon", "VAE")


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_search_models", workdir / "bench_search_data"
    models.mkdir(parents=True, exist_ok=True)
    database = EmbeddedPostgres(workdir / "bench_search_pg")
    database.start()
    port = free_port()
    env = stack_env(models, data, port, DATABASE_URL=database.dsn, MODELVAULT_AUTO_SCAN="0")
    process = start_stack(env)
    try:
        return asyncio.run(_measure(f"http://127.0.0.1:{port}", database.dsn))
    finally:
        stop_stack(process)
        database.stop()
        shutil.rmtree(models, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def _digest(i: int) -> str:
    return hashlib.sha256(f"search {i}".encode()).hexdigest()


def _name(i: int) -> str:
    return f"{_WORDS[i % len(_WORDS)].title()} {_WORDS[(i // 19) % len(_WORDS)].title()} {i}"


async def _catalogue(dsn: str) -> None:
    """100,000 models in 500 folders, each content with a name, version, type, base model and trigger words:
    rows written straight into PostgreSQL (the triggers fill the search columns), then analysed."""
    rows, facts = [], []
    for i in range(MODELS):
        sha = _digest(i)
        folder = f"/library/{('Lora', 'Stable-diffusion', 'embeddings')[i % 3]}/group_{i % 500:03d}"
        rows.append((f"{folder}/model_{sha[:8]}_{i:06d}.safetensors", sha, i * 7919 % 7_000_000_000, i, i, 1))
        for field, value in (("model_name", _name(i)), ("version_name", f"v{i % 12}.0"),
                             ("model_type", _TYPES[i % 5]), ("base_model", _BASES[i % 5]),
                             ("trained_words", [f"{_WORDS[i % 7]}_{i % 1000}", f"style{i % 300}"])):
            facts.append((sha, field, json.dumps(value), "civitai"))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("models", records=rows,
                                         columns=["path", "sha256", "size", "mtime_ns", "inode", "device"])
        # As the jobs write metadata: a staging table, then one INSERT ... SELECT (the triggers run once).
        async with conn.transaction():
            await conn.execute("CREATE TEMPORARY TABLE facts_in (sha256 text, field text, value text, source text)"
                               " ON COMMIT DROP")
            await conn.copy_records_to_table("facts_in", records=facts)
            await conn.execute("INSERT INTO model_metadata (sha256, field, value, source) "
                               "SELECT sha256, field, value::jsonb, source FROM facts_in")
        await conn.execute("VACUUM ANALYZE models")
        await conn.execute("VACUUM ANALYZE model_metadata")
    finally:
        await conn.close()


# What each search of _searches() is, in its order: the figures say which kind is slow.
KINDS = ("whole name", "one word of a name", "trigger word", "shared trigger word", "AutoV2", "SHA-256", "folder",
         "file name", "base model and type", "word, base model, by size", "two words, by name", "nothing found")


def _searches() -> list[tuple[str, dict[str, str]]]:
    """What people type: a model's name or part of it, a version, a trigger word, a base model, a folder, a file
    name, an AutoV2 or a full SHA-256, some with a type or base-model filter, in every order; each with its kind."""
    pick = random.Random(7)
    found = []
    for _ in range(40):
        i = pick.randrange(MODELS)
        sha = _digest(i)
        found += zip(KINDS, [
            {"q": _name(i)}, {"q": _name(i).split()[0]}, {"q": f"{_WORDS[i % 7]}_{i % 1000}"},
            {"q": f"style{i % 300}"}, {"q": sha[:10].upper()}, {"q": sha}, {"q": f"group_{i % 500:03d}"},
            {"q": f"model_{sha[:8]}"}, {"q": "pony", "model_type": "lora"},
            {"q": _name(i).split()[1], "base_model": _BASES[i % 5], "sort": "size", "order": "desc"},
            {"q": f"{_WORDS[i % len(_WORDS)]} v{i % 12}", "sort": "name"}, {"q": "xyzzy"}], strict=True)
    return found


async def _measure(base: str, dsn: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/api/health") as reply:  # the gateway has migrated the schema
            await reply.read()
        started = time.perf_counter()
        await _catalogue(dsn)
        load_s = time.perf_counter() - started
        latencies: list[float] = []
        by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
        searches = _searches()
        for round_ in range(ROUNDS + 1):
            for kind, params in searches:
                began = time.perf_counter()
                async with session.get(f"{base}/api/models", params={**params, "limit": str(PAGE)}) as reply:
                    assert reply.status == 200, await reply.text()
                    body = await reply.json()
                if round_:  # the first round warms the caches: page-cached figures
                    latencies.append((time.perf_counter() - began) * 1000)
                    by_kind[kind].append(latencies[-1])
                if params["q"] in ("xyzzy",):
                    assert body["total"] == 0, body
                elif len(params["q"]) in (10, 64):
                    assert body["total"] >= 1, params
    return {
        "search_p99_ms_100k": round(statistics.quantiles(latencies, n=100)[98], 2),
        "search_p50_ms_100k": round(statistics.median(latencies), 2),
        "search_count": len(latencies),
        # The 90th percentile of each kind of search, slowest first.
        "search_p90_ms_by_kind": dict(sorted(((kind, round(statistics.quantiles(times, n=10)[8], 1))
                                              for kind, times in by_kind.items()), key=lambda item: -item[1])),
        "search_catalogue_load_s": round(load_s, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
