"""The README's pictures, made from a generated library: the library grid and a job while it runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import asyncpg
from PIL import Image, ImageChops
from playwright.async_api import expect

from tests.browser.library import add_library, register, write_big_model, write_picture

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


async def save(page, name: str) -> None:
    """The screenshot, written over the committed one only when the page looks different."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    shot = Image.open(io.BytesIO(await page.screenshot())).convert("RGB")
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
    for image in await page.locator(".card img").all():
        await image.evaluate("img => img.decode()")
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
