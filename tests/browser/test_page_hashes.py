"""The model view's hashes in a real browser: AutoV2 and AutoV3 with copy buttons, and why one is missing."""

from __future__ import annotations

import hashlib

import asyncpg
from playwright.async_api import expect

from tests.browser.conftest import open_tab
from tests.browser.library import post
from tests.short_hash_files import autov3_as_civitai, lora


async def test_the_model_view_shows_autov2_and_autov3_and_copies_them(stack, site, browser):
    path = lora(stack.model_root / "loras/alice.safetensors", 1)
    await post(site, "/api/models/sha256", {"path": str(path)})
    sha256, autov3 = hashlib.sha256(path.read_bytes()).hexdigest(), autov3_as_civitai(path)
    async with open_tab(browser, site, permissions=["clipboard-read", "clipboard-write"]) as tab:
        await tab.goto(f"/#/model/{sha256}")
        hashes = tab.locator("#model .hashes")
        await expect(hashes.locator("dt")).to_have_text(["SHA-256", "AutoV2", "AutoV3", "AutoV1"])
        await expect(hashes.locator("dd code")).to_have_text([sha256, sha256[:10], autov3])
        await expect(hashes.locator("dd").nth(3)).to_have_text("none (a file of 1 MiB or less)")

        await tab.get_by_role("button", name="Copy the AutoV3 hash of alice").click()
        await expect(tab.locator("#news")).to_contain_text("Copied the AutoV3 of alice")
        assert await tab.evaluate("navigator.clipboard.readText()") == autov3
        await tab.get_by_role("button", name="Copy the AutoV2 hash of alice").click()
        await expect(tab.locator("#news")).to_contain_text("Copied the AutoV2 of alice")
        assert await tab.evaluate("navigator.clipboard.readText()") == sha256[:10]


async def test_a_model_hashed_before_short_hashes_says_they_are_not_known(stack, site, page):
    path = lora(stack.model_root / "bob.safetensors", 2)
    await post(site, "/api/models/sha256", {"path": str(path)})
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("DELETE FROM model_short_hashes")
    finally:
        await conn.close()

    await page.goto(f"/#/model/{sha256}")

    autov3 = page.locator("#model .hashes dd").nth(2)
    await expect(autov3).to_contain_text("not known: hashed before ModelVault computed it")
    await expect(page.get_by_role("button", name="Copy the AutoV2 hash of bob")).to_be_visible()
    await expect(page.get_by_role("button", name="Copy the AutoV3 hash of bob")).to_have_count(0)
