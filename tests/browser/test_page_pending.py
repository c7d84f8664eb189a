"""Pending files in a real browser: their previews and errors, "hash this one" with live bytes, readable failures."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.console import provokes
from tests.browser.library import register, write_big_model, write_model

# Each <progress> the page draws, as a person would have seen it: its value and maximum.
WATCH_PROGRESS = """root => {
    window.seenProgress = [];
    new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(node => {
        const bars = node.matches?.('progress') ? [node] : [...(node.querySelectorAll?.('progress') || [])];
        bars.forEach(bar => window.seenProgress.push([bar.value, bar.max]));
    }))).observe(root, {childList: true, subtree: true});
}"""
GiB = 1 << 30


async def test_hash_this_one_shows_bytes_and_ends_in_the_library(stack, site, page):
    big = write_big_model(stack.model_root, "checkpoints/huge.safetensors", GiB, (40, 80, 220))
    await register(site, big)

    await page.goto("/#/pending")
    item = page.locator(".pending-item", has_text="huge")
    await expect(item.locator("img")).to_have_attribute("src", "/images/pending/huge.webp")
    await item.evaluate(WATCH_PROGRESS)
    await item.get_by_role("button", name="Hash this one: huge").click()

    await expect(page.locator("#news")).to_contain_text("huge is in the library as", timeout=60_000)
    await expect(page.locator(".pending-item")).to_have_count(0)
    await expect(page.locator("#pending .status")).to_have_text("Nothing is pending.")
    seen = await page.evaluate("window.seenProgress")
    assert any(0 < value < maximum == GiB for value, maximum in seen), seen

    sha256 = await page.locator("#news a").text_content()
    await page.locator("#news a").click()
    await expect(page.locator("#model h2")).to_have_text("huge")
    await page.get_by_role("link", name="Library", exact=True).click()
    card = page.locator(".card", has_text="huge")
    await expect(card.locator(".hash code")).to_have_text(sha256)
    await expect(card.locator(".size")).to_have_text("1.0 GiB")


async def test_a_failed_hash_is_told_in_words(stack, site, page):
    provokes(page, 404)  # the hash of a file that is gone
    gone = write_model(stack.model_root, "loras/vanishing.safetensors")
    await register(site, gone)
    await page.goto("/#/pending")
    item = page.locator(".pending-item", has_text="vanishing")
    await expect(item).to_be_visible()
    gone.unlink()
    await item.get_by_role("button", name="Hash this one: vanishing").click()

    alert = page.locator("#alerts .notice")
    await expect(alert).to_contain_text("That was not found.")
    await expect(item.locator(".state")).to_have_text("Failed")
    for text in (await alert.text_content(), await item.text_content()):
        assert "{" not in text and '"error"' not in text, text
    await expect(item.get_by_role("button", name="Hash this one: vanishing")).to_be_enabled()
