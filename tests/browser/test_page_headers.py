"""What a file's header says, in the model view of a real browser: facts with their source, trigger words."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests import model_layouts as layouts
from tests.browser.library import post, run_job


async def test_the_model_view_shows_the_headers_facts_and_trigger_words(stack, site, page):
    path = layouts.write_safetensors(stack.model_root / "alice.safetensors", layouts.kohya_lora(768),
                                     layouts.kohya_metadata())
    await post(site, "/api/models/sha256", {"path": str(path)})
    job = await run_job(site, {"kind": "headers"})
    assert job["state"] == "done", job
    await page.goto("/")
    # The card shows the model's own name (the header's title); the file's is under it.
    await page.locator(".card", has_text="alice.safetensors").locator("h3 a").click()
    architecture = page.locator("#model tbody tr", has=page.get_by_role("rowheader", name="Architecture"))
    await expect(architecture.locator("td")).to_have_text(["sd1", "File header"])
    training = page.get_by_role("region", name="Training")
    steps = training.locator("tr", has=page.get_by_role("rowheader", name="Steps", exact=True))
    await expect(steps.locator("td")).to_have_text("1200")
    dim = training.locator("tr", has=page.get_by_role("rowheader", name="Dim (rank)"))
    await expect(dim.locator("td")).to_have_text("16")
    # Summed over kohya's dataset folders, most frequent first: 1girl is 38 + 5.
    await expect(training.locator(".dataset-tags tbody tr").first.locator("td")).to_have_text(["1girl", "43"])
    await expect(page.locator("#model")).not_to_contain_text('"steps"')
    # The header says LoRA: the prompt syntax A1111 and Forge take, by file name, at weight 1.
    await expect(page.locator("#model .prompt-syntax code")).to_have_text("<lora:alice:1>")
    await page.get_by_role("button", name="Copy the prompt syntax <lora:alice:1>").click()
    await expect(page.get_by_text("Copied the prompt syntax.")).to_be_visible()
    await expect(page.locator("#model .words code").first).to_have_text("1girl")
    await expect(page.get_by_role("button", name=re.compile("^Copy all trigger words of "))).to_have_text("Copy all")
    await expect(page.locator("#model")).not_to_contain_text("[object Object]")
