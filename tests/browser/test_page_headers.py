"""What a file's header says, in the model view of a real browser: facts with their source, trigger words."""

from __future__ import annotations

import asyncio

import aiohttp
from playwright.async_api import expect

from tests import model_layouts as layouts
from tests.browser.library import post


async def _run_headers_job(site: str) -> None:
    job = await post(site, "/api/jobs", {"kind": "headers"})
    async with aiohttp.ClientSession() as session:
        while job["state"] in ("queued", "running"):
            await asyncio.sleep(0.05)
            async with session.get(f"{site}/api/jobs/{job['id']}") as reply:
                job = await reply.json()
    assert job["state"] == "done", job


async def test_the_model_view_shows_the_headers_facts_and_trigger_words(stack, site, page):
    path = layouts.write_safetensors(stack.model_root / "alice.safetensors", layouts.kohya_lora(768),
                                     layouts.kohya_metadata())
    await post(site, "/api/models/sha256", {"path": str(path)})
    await _run_headers_job(site)
    await page.goto("/")
    # The card shows the model's own name (the header's title); the file's is under it.
    await page.locator(".card", has_text="alice.safetensors").locator("h3 a").click()
    architecture = page.locator("#model tbody tr", has=page.get_by_role("rowheader", name="Architecture"))
    await expect(architecture.locator("td")).to_have_text(["sd1", "File header"])
    training = page.locator("#model tbody tr", has=page.get_by_role("rowheader", name="training"))
    await expect(training.locator("td").first).to_contain_text('"steps":1200')
    await expect(page.locator("#model .words code").first).to_have_text("1girl")
    await expect(page.locator("#model")).not_to_contain_text("[object Object]")
