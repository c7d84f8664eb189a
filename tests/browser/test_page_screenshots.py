"""The README's pictures, made from a generated library: the library grid with its folder tree, a model with
what its header and the hub say, a job while it runs, and a job's story once it ended."""

from __future__ import annotations

import io
import json
from pathlib import Path

import asyncpg
from PIL import Image, ImageChops
from playwright.async_api import expect

from backend.server.instance import create_app
from tests import model_layouts as layouts
from tests.browser.conftest import open_tab
from tests.browser.library import add_library, post, register, run_job, write_big_model, write_model, write_picture
from tests.integration.fake_hub import FakeHub, hub_running, image, png, version

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NAMES = [
    "checkpoints/sdxl/juggernautXL_v9.safetensors", "checkpoints/sd15/dreamshaper_8.safetensors",
    "loras/style/watercolor_wash.safetensors", "loras/characters/knight_armor_v2.safetensors",
    "loras/style/pixel_art_xl.safetensors", "vae/sdxl_vae.safetensors", "embeddings/easynegative.safetensors",
    "upscalers/4x_ultrasharp.pt",
]
GiB = 1 << 30
# Rendering varies by a few levels from run to run; a change of the page moves pixels by far more.
NOISE_LEVELS = 48


async def save(page, name: str, full_page: bool = False) -> None:
    """The screenshot, written over the committed one only when the page looks different."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    shot = Image.open(io.BytesIO(await page.screenshot(full_page=full_page))).convert("RGB")
    if target.exists():
        old = Image.open(target).convert("RGB")
        if old.size == shot.size and sum(ImageChops.difference(old, shot).convert("L").histogram()[NOISE_LEVELS:]) == 0:
            return
    shot.save(target)


# What the hub and the headers would say of some of them: the cards show the model's name, type and base model.
KNOWN = {
    "juggernautXL_v9": {"model_name": "Juggernaut XL", "version_name": "v9", "model_type": "Checkpoint",
                        "base_model": "SDXL 1.0"},
    "dreamshaper_8": {"model_name": "DreamShaper", "version_name": "8", "model_type": "Checkpoint",
                      "base_model": "SD 1.5"},
    "watercolor_wash": {"model_type": "lora", "architecture": "sdxl"},
    "knight_armor_v2": {"model_name": "Knight Armor", "version_name": "v2", "model_type": "LORA",
                        "base_model": "Pony"},
    "sdxl_vae": {"model_type": "vae"},
    "easynegative": {"model_type": "TextualInversion", "base_model": "SD 1.5"},
}


async def test_screenshot_of_the_library(stack, site, page):
    models = await add_library(site, stack.model_root, NAMES, [(i + 1) * 37_000 for i in range(len(NAMES))],
                               write_picture)
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.executemany(
            "INSERT INTO model_metadata (sha256, field, value, source) VALUES ($1, $2, $3::jsonb, 'civitai')",
            [(m.sha256, f, json.dumps(v)) for m in models for f, v in KNOWN.get(m.name, {}).items()])
    finally:
        await conn.close()
    await page.set_viewport_size({"width": 1280, "height": 860})
    await page.goto("/")
    await expect(page.locator(".card")).to_have_count(len(NAMES))
    await page.get_by_role("button", name="Subfolders of loras").click()
    for picture in await page.locator(".card img").all():
        await picture.evaluate("img => img.decode()")
    await save(page, "library.png")


async def test_screenshot_of_a_running_job(stack, site, page):
    for index in range(3):
        model = write_big_model(stack.model_root, f"checkpoints/big_model_{index}.safetensors", 2 * GiB,
                                (90, 60 + index * 50, 160), write_picture)
        await register(site, model)
    await page.set_viewport_size({"width": 1000, "height": 560})
    await page.goto("/#/pending")
    await expect(page.locator(".pending-item")).to_have_count(3)
    await page.get_by_role("button", name="Hash all").click()
    job = page.locator(".job").first
    # A moment when the job has hashed something and has more to go.
    await page.wait_for_function(
        "() => { const bar = document.querySelector('.job progress');"
        " return bar && bar.value > 0 && bar.value < bar.max; }", timeout=60_000)
    await expect(job.locator(".state")).to_have_text("Running")
    await save(page, "job.png")
    await job.get_by_role("button", name="Cancel").click()


async def test_screenshot_of_a_model_with_its_header_and_hub_facts(stack, browser, aiohttp_server):
    path = layouts.write_safetensors(stack.model_root / "loras/style/inkStyle_v16.safetensors",
                                     layouts.kohya_lora(768), layouts.kohya_metadata())
    write_picture(path, (60, 110, 200))
    async with hub_running(FakeHub()) as hub:
        server = await aiohttp_server(create_app(stack.config(MODELVAULT_HUB_URL=hub.url,
                                                              MODELVAULT_HUB_REQUESTS_PER_S="1000")))
        site = str(server.make_url("")).rstrip("/")
        await register(site, path)
        sha256 = (await post(site, "/api/models/sha256", {"path": str(path)}))["sha256"]
        hub.files = {"ink.png": (png(), "image/png")}
        hub.versions = [version(sha256, images=[image(f"{hub.url}/images/ink.png")],
                                description="<p>Loose ink lines and washes, for SDXL.</p>")]
        for kind in ("headers", "hub"):
            assert (await run_job(site, {"kind": kind}))["state"] == "done"
        async with open_tab(browser, site) as page:
            await page.set_viewport_size({"width": 1280, "height": 1000})
            await page.goto(f"/#/model/{sha256}")
            await expect(page.locator("#model h2")).to_have_text("Ink Style")
            await expect(page.locator("#model section.hub .hub-state")).to_contain_text("Found on the hub")
            await expect(page.get_by_role("region", name="Training")).to_be_visible()
            await page.locator("#model .large-preview img").evaluate("img => img.decode()")
            await save(page, "model.png", full_page=True)


async def test_screenshot_of_a_jobs_story(stack, site, page):
    for index, name in enumerate(("checkpoints/sdxl/juggernautXL_v9", "loras/style/watercolor_wash",
                                  "loras/characters/knight_armor_v2")):
        write_model(stack.model_root, f"{name}.safetensors", 40_000 + index, (90, 60 + index * 50, 160),
                    write_picture)
    (stack.model_root / "loras/style/broken.safetensors").write_bytes(b"model")
    (stack.model_root / "loras/style/broken.preview.png").write_bytes(b"no picture at all")
    await page.set_viewport_size({"width": 1000, "height": 620})
    await page.goto("/#/jobs")
    await expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    await run_job(site, {"kind": "scan"})
    await run_job(site, {"kind": "hash"})
    jobs = page.locator(".job")
    await expect(jobs).to_have_count(2)
    await expect(jobs.locator(".state")).to_have_text(["Done", "Done"])
    await expect(page.locator(".job .problems li")).to_have_count(1)
    await save(page, "story.png")
