"""Browsing as a person does: search by what is known, the type and base-model filters, the folder tree, cards
that say what a model is, and an address that gives the same filtered, scrolled view back."""

from __future__ import annotations

import json

import asyncpg
from playwright.async_api import expect

from backend.cli import units
from tests.browser.conftest import open_tab
from tests.browser.library import add_library, catalogue_rows, insert_models

NAMES = ["Stable-diffusion/SDXL/juggernautXL_v9.safetensors", "Lora/characters/miku_v15.safetensors",
         "Lora/styles/inkwash.safetensors", "VAE/sdxl_vae.safetensors"]
FACTS = {
    "juggernautXL_v9": {"model_name": "Juggernaut XL", "version_name": "v9", "model_type": "Checkpoint",
                        "base_model": "SDXL 1.0"},
    "miku_v15": {"model_name": "Hatsune Miku [初音ミク]", "model_type": "LORA", "base_model": "Pony",
                 "trained_words": ["hatsune miku", "twintails"]},
    "inkwash": {"model_type": "lora", "architecture": "sd1", "trigger_words": ["sumi-e"]},
}


async def _known(dsn: str, models) -> None:
    """What the hub and the headers would have said, written as their jobs write it."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO model_metadata (sha256, field, value, source) VALUES ($1, $2, $3::jsonb, 'civitai')",
            [(m.sha256, field, json.dumps(value)) for m in models for field, value in FACTS.get(m.name, {}).items()])
    finally:
        await conn.close()


async def test_search_finds_models_by_name_trigger_word_and_autov2(stack, site, page):
    models = await add_library(site, stack.model_root, NAMES)
    await _known(stack.database_url, models)
    await page.goto("/")
    names = page.locator(".card h3")
    await expect(names).to_have_count(4)

    search = page.get_by_label("Search")
    await search.fill("juggernaut xl")
    await expect(names).to_have_text(["Juggernaut XL v9"])
    await expect(page.locator(".card .file")).to_have_text(["juggernautXL_v9.safetensors"])
    await search.fill("twintails")
    await expect(names).to_have_text(["Hatsune Miku [初音ミク]"])
    await search.fill("sumi-e")
    await expect(names).to_have_text(["inkwash"])
    vae = next(m for m in models if m.name == "sdxl_vae")
    await search.fill(vae.sha256[:10].upper())
    await expect(names).to_have_text(["sdxl_vae"])
    await expect(page).to_have_url(f"{site}/#/library?q={vae.sha256[:10].upper()}")


async def test_cards_say_what_each_model_is(stack, site, page):
    models = await add_library(site, stack.model_root, NAMES)
    await _known(stack.database_url, models)
    (stack.model_root / "VAE/sdxl_vae.png").unlink()
    await page.goto("/")
    miku = page.locator(".card", has_text="miku_v15.safetensors")
    await expect(miku.locator(".badge")).to_have_text("LoRA")
    await expect(miku.locator(".base")).to_have_text("Pony")
    await expect(miku.locator(".folder")).to_have_text("Lora/characters")  # relative to its root
    await expect(page.locator(".card", has_text="inkwash").locator(".base")).to_have_text("SD 1.x")
    juggernaut = page.locator(".card", has_text="juggernautXL_v9")
    await expect(juggernaut.locator(".folder")).to_have_text("Stable-diffusion/SDXL")
    await expect(juggernaut.locator(".badge")).to_have_text("Checkpoint")


async def test_type_and_base_model_filters_offer_what_is_known(stack, site, page):
    models = await add_library(site, stack.model_root, NAMES)
    await _known(stack.database_url, models)
    await page.goto("/")
    await expect(page.locator(".card")).to_have_count(4)
    await page.get_by_label("Type").select_option(label="LoRA (2)")
    await expect(page.locator(".card .file")).to_have_text(["inkwash.safetensors", "miku_v15.safetensors"])
    await page.get_by_label("Base model").select_option(label="Pony (1)")
    await expect(page.locator(".card .file")).to_have_text(["miku_v15.safetensors"])
    await page.get_by_label("Type").select_option(label="Any type")
    await page.get_by_label("Base model").select_option(label="Unknown (1)")
    await expect(page.locator(".card .file")).to_have_text(["sdxl_vae.safetensors"])


async def test_the_folder_tree_counts_filters_and_collapses(stack, site, page):
    await add_library(site, stack.model_root, NAMES)
    await page.goto("/")
    tree = page.get_by_role("navigation", name="Folders")
    lora = tree.get_by_role("button", name="Lora 2", exact=True)
    await expect(lora).to_be_visible()
    await expect(tree.get_by_role("button", name="All folders 4")).to_have_attribute("aria-pressed", "true")
    await lora.click()
    await expect(page.locator(".card .file")).to_have_text(["inkwash.safetensors", "miku_v15.safetensors"])
    await expect(lora).to_have_attribute("aria-pressed", "true")
    assert "folder=" in page.url and "Lora" in page.url

    characters = tree.get_by_role("button", name="characters 1")
    await expect(characters).to_be_hidden()  # collapsed until its parent is opened
    await tree.get_by_role("button", name="Subfolders of Lora").click()
    await characters.click()
    await expect(page.locator(".card .file")).to_have_text(["miku_v15.safetensors"])
    await tree.get_by_role("button", name="Subfolders of Lora").click()
    await expect(characters).to_be_hidden()
    await tree.get_by_role("button", name="All folders 4").click()
    await expect(page.locator(".card")).to_have_count(4)


async def test_the_address_gives_back_a_filtered_scrolled_view(stack, site, browser, page):
    rows = catalogue_rows(stack.model_root, 400, ["Lora", "Checkpoints"])
    await insert_models(stack.database_url, [(*row[:-1], None) for row in rows])
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.executemany("INSERT INTO model_metadata (sha256, field, value, source) "
                               "VALUES ($1, 'model_type', '\"LORA\"', 'civitai')",
                               [(row[1],) for row in rows if "/Lora/" in row[0]])
    finally:
        await conn.close()
    await page.goto("/#/library?model_type=lora&sort=name:desc")
    await expect(page.get_by_label("Type")).to_have_value("lora")
    await expect(page.get_by_label("Sort")).to_have_value("name:desc")
    await expect(page.locator("#library .status")).to_have_text("Showing 60 models of 200.")
    # Scroll until the third page is there, then open a model far down.
    for _ in range(20):
        await page.mouse.wheel(0, 3000)
        if await page.locator(".card").count() >= 180:
            break
        await page.wait_for_timeout(100)
    card = page.locator(".card").nth(150)
    await card.scroll_into_view_if_needed()
    await page.wait_for_timeout(300)  # the scroll position is remembered once scrolling pauses
    where = await page.evaluate("scrollY")
    name = await card.locator("h3").inner_text()
    assert where > 3000
    await card.locator("h3 a").click()
    await expect(page.locator("#model")).to_be_visible()

    await page.go_back()
    await expect(page.locator("#library")).to_be_visible()
    await expect(page.get_by_label("Type")).to_have_value("lora")
    await expect(page.locator(".card h3").nth(150)).to_have_text(name)
    assert abs(await page.evaluate("scrollY") - where) < 50
    await expect(page.locator(".card").nth(150)).to_be_in_viewport()

    # A shared link opens the same view in another tab.
    async with open_tab(browser, site) as other:
        await other.goto(page.url)
        await expect(other.get_by_label("Type")).to_have_value("lora")
        await expect(other.locator(".card h3").first).to_have_text("model_00398")
        await expect(other.locator("#library .status")).to_have_text("Showing 60 models of 200.")


async def test_a_search_with_more_matches_than_it_counts_says_at_least(stack, site, page):
    await insert_models(stack.database_url, [(*row[:-1], None) for row in catalogue_rows(stack.model_root, 1100,
                                                                                          ["Lora"])])
    await page.goto("/#/library?q=model")
    await expect(page.locator("#library .status")).to_have_text("Showing 60 models of 1,000+.")
    await page.get_by_label("Search").fill("model_0109")
    await expect(page.locator("#library .status")).to_have_text("Showing 10 models of 10.")


async def test_an_empty_library_says_which_folders_it_watches_and_how_to_add_yours(stack, site, page):
    await page.goto("/")
    empty = page.locator(".empty-library")
    await expect(empty).to_be_visible()
    await expect(empty.locator(".roots")).to_have_text(str(stack.model_root))
    await expect(empty).to_contain_text("MODELVAULT_MODEL_ROOTS=")
    await expect(page.locator("#library .status")).to_have_text("No models yet.")


async def test_the_page_and_the_terminal_write_sizes_alike(site, page):
    amounts = [0, 1023, 1024, 1536, 250_000, 3_500_000_000, 7 * 2**40]
    await page.goto("/")
    shown = await page.evaluate(
        "async (amounts) => { const { size } = await import('/static/js/format.js');"
        " return amounts.map((n) => size(n)); }", amounts)
    assert shown == [units.size(n) for n in amounts]
    assert shown[5] == "3.3 GiB"
