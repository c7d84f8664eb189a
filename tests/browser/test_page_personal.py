"""The model view's "Yours" in Chromium: a favourite, tags and notes saved, shown again after a reload."""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import expect

from tests.browser.console import provokes
from tests.browser.library import add_library, add_model


async def _yours(site: str, sha256: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(f"{site}/api/models/{sha256}") as reply:
        metadata = (await reply.json())["metadata"]
    return {field: entry["value"] for field, entry in metadata.items() if entry["source"] == "you"}


async def test_a_favourite_tags_and_notes_are_kept_as_yours(stack, site, page) -> None:
    model = await add_model(site, stack.model_root, "loras/ink.safetensors", (40, 80, 220))
    await page.goto(f"/#/model/{model.sha256}")
    yours = page.get_by_role("region", name="Yours")
    star = yours.get_by_role("button", name="☆ Favourite")
    await expect(star).to_have_attribute("aria-pressed", "false")
    await star.click()
    await expect(yours.get_by_role("button", name="★ Favourite")).to_have_attribute("aria-pressed", "true")

    await yours.get_by_label("Tags (separated by commas)").fill("anime, ink , Anime")
    await yours.get_by_label("Notes").fill("best at 0.8 with <b>ink</b>")
    await yours.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved your notes of ink.")).to_be_visible()
    # The gateway keeps one tag per spelling but case, and the form shows what it kept.
    await expect(yours.get_by_label("Tags (separated by commas)")).to_have_value("anime, ink")
    assert await _yours(site, model.sha256) == {"favourite": True, "tags": ["anime", "ink"],
                                                "notes": "best at 0.8 with <b>ink</b>"}

    await page.reload()
    yours = page.get_by_role("region", name="Yours")
    await expect(yours.get_by_label("Notes")).to_have_value("best at 0.8 with <b>ink</b>")
    await expect(yours.get_by_role("button", name="★ Favourite")).to_be_visible()
    await expect(page.locator("#model b")).to_have_count(0)  # the notes are text, never markup


async def test_a_refused_save_says_why_and_keeps_what_was_typed(stack, site, page) -> None:
    provokes(page, 400)  # the gateway's answer to a tag too long
    model = await add_model(site, stack.model_root, "loras/ink.safetensors", (40, 80, 220))
    await page.goto(f"/#/model/{model.sha256}")
    yours = page.get_by_role("region", name="Yours")
    await yours.get_by_label("Tags (separated by commas)").fill("x" * 65)
    await yours.get_by_role("button", name="Save").click()
    await expect(page.locator("#alerts")).to_contain_text("1 to 64 characters")
    await expect(yours.get_by_label("Tags (separated by commas)")).to_have_value("x" * 65)
    assert await _yours(site, model.sha256) == {}


async def test_favourites_only_shows_the_favourites_with_their_star_and_stays_in_the_address(
    stack, site, page
) -> None:
    ink, _ = await add_library(site, stack.model_root, ["loras/ink.safetensors", "loras/oil.safetensors"])
    await page.goto(f"/#/model/{ink.sha256}")
    await page.get_by_role("region", name="Yours").get_by_role("button", name="☆ Favourite").click()
    await expect(page.get_by_text("ink is a favourite.")).to_be_visible()

    await page.goto("/#/library")
    await page.get_by_label("Favourites only").check()
    cards = page.locator("#library .card")
    await expect(cards).to_have_count(1)
    await expect(cards.first.locator("h3")).to_contain_text("ink")
    await expect(cards.first.locator(".star")).to_have_attribute("title", "A favourite")
    await expect(page).to_have_url(re.compile(r"#/library\?(.*&)?favourite=1"))
    await page.reload()
    await expect(page.get_by_label("Favourites only")).to_be_checked()
    await expect(cards).to_have_count(1)
