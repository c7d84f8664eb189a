"""Page benchmark: the library's first paint with 10,000 models, measured in headless Chromium; what the page weighs."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
from pathlib import Path

from PIL import Image

from backend.database.embedded import EmbeddedPostgres
from tests.browser.library import catalogue_rows, insert_models
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

MODELS = 10_000
ROUNDS = 5
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# The page marks the moment its first page of models is on screen (library.js).
PAINTED = "performance.getEntriesByName('library-painted')"
# What the page fetched of its own files (not the API, not previews), in bytes as sent.
PAGE_BYTES = """() => performance.getEntriesByType('resource')
    .concat(performance.getEntriesByType('navigation'))
    .filter(e => e.name.endsWith('/') || e.name.includes('/static/'))
    .map(e => [e.name, e.encodedBodySize])"""


def run(workdir: Path) -> dict[str, float]:
    models, data = workdir / "bench_page_models", workdir / "bench_page_data"
    models.mkdir(parents=True, exist_ok=True)
    database = EmbeddedPostgres(workdir / "bench_page_pg")
    database.start()
    port = free_port()
    try:
        process = start_stack(stack_env(models, data, port, DATABASE_URL=database.dsn))
        try:
            asyncio.run(_fill(database.dsn, models, data / "images"))
            return _measure(f"http://127.0.0.1:{port}")
        finally:
            stop_stack(process)
    finally:
        database.stop()
        for folder in (models, data, workdir / "bench_page_pg"):
            shutil.rmtree(folder, ignore_errors=True)


async def _fill(dsn: str, models: Path, images: Path) -> None:
    """10,000 active models straight into PostgreSQL with COPY, each with a preview on disk (one file, linked)."""
    rows = catalogue_rows(models, MODELS, ["checkpoints", "loras/style", "loras/characters", "vae", "embeddings"])
    images.mkdir(parents=True, exist_ok=True)
    first = images / rows[0][-1]
    Image.new("RGB", (300, 400), (90, 120, 160)).save(first, "WEBP", quality=80)
    for row in rows[1:]:
        os.link(first, images / row[-1])
    await insert_models(dsn, rows)


def _measure(base: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    painted: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(ROUNDS):
                # A new context each round: an empty cache, as a first visit.
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                tab = context.new_page()
                tab.goto(base + "/")
                tab.wait_for_function(f"() => {PAINTED}.length > 0", timeout=60_000)
                assert tab.locator(".card").count() > 0
                painted.append(tab.evaluate(f"() => {PAINTED}[0].startTime"))
                files = tab.evaluate(PAGE_BYTES)
                context.close()
        finally:
            browser.close()
    js = sum(size for name, size in files if name.endswith(".js"))
    return {
        "page_load_ms": round(statistics.median(painted), 1),
        "page_load_best_ms": round(min(painted), 1),
        "page_js_kb": round(js / 1024, 1),
        "page_files_kb": round(sum(size for _, size in files) / 1024, 1),
        "page_models": MODELS,
    }
