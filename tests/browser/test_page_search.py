"""Search, sort and filters in a real browser, answered by the API (the page never holds the whole library)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.library import add_library

NAMES = ["loras/knight.safetensors", "loras/castle.safetensors", "sd/knight_xl.ckpt", "sd/meadow.safetensors"]
SIZES = [3000, 9000, 1000, 5000]


async def test_search_sort_and_filters_change_the_grid(stack, site, page):
    await add_library(site, stack.model_root, NAMES, SIZES)
    await page.goto("/")
    await expect(page.locator(".card h3")).to_have_text(["castle", "knight", "knight_xl", "meadow"])

    await page.get_by_label("Search").fill("knight")
    await expect(page.locator(".card h3")).to_have_text(["knight", "knight_xl"])
    await expect(page.locator("#library .status")).to_have_text("Showing 2 models of 2.")

    await page.get_by_label("Sort").select_option(label="Largest first")
    await expect(page.locator(".card h3")).to_have_text(["knight", "knight_xl"])
    await page.get_by_label("Search").fill("")
    await expect(page.locator(".card h3")).to_have_text(["castle", "meadow", "knight", "knight_xl"])
    await page.get_by_label("Sort").select_option(label="Name, Z to A")
    await expect(page.locator(".card h3")).to_have_text(["meadow", "knight_xl", "knight", "castle"])

    await page.get_by_role("navigation", name="Folders").get_by_role("button", name="loras 2").click()
    await expect(page.locator(".card h3")).to_have_text(["knight", "castle"])


async def test_a_search_that_matches_nothing_says_so(stack, site, page):
    await add_library(site, stack.model_root, NAMES[:1])
    await page.goto("/")
    await page.get_by_label("Search").fill("no such model")
    await expect(page.locator("#library .status")).to_have_text("No models match.")
    await expect(page.locator(".card")).to_have_count(0)
