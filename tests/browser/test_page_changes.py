"""The page stays true by itself: the stream of catalogue changes updates an open Jobs view and open cards."""

from __future__ import annotations

import hashlib

from PIL import Image
from playwright.async_api import expect

from backend.server.instance import create_app
from tests.browser.conftest import open_tab
from tests.browser.console import provokes
from tests.browser.library import post, write_model, write_preview
from tests.integration.cli_support import cli


async def test_a_job_started_from_the_command_line_appears_in_an_open_jobs_view_with_its_story(stack, site, page):
    write_model(stack.model_root, "loras/fresh.safetensors", color=None)
    (stack.model_root / "loras/fresh.preview.png").write_bytes(b"no picture at all")
    await page.goto("/#/jobs")
    await expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    await page.wait_for_timeout(300)  # the stream is open before the command runs (it says "ready" first)

    result = await cli(site, "scan")
    assert result.code == 0, result.err
    job = page.locator(".job").first
    await expect(job.locator("h3")).to_have_text("Scan for new files")
    await expect(job.locator(".state")).to_have_text("Done", timeout=20_000)
    await expect(job.locator(".origin")).to_contain_text("started by the command line")
    await expect(job.locator(".origin")).to_contain_text("took ")
    await expect(job.locator(".result")).to_have_text("Found 1 file, 1 new, 1 problem.")
    problem = job.locator(".problems li")
    await expect(problem).to_have_count(1)
    await expect(problem).to_contain_text(str(stack.model_root / "loras/fresh.preview.png"))


async def test_a_picture_dropped_beside_a_model_shows_on_its_open_card_without_a_reload(stack, site, page):
    model = write_model(stack.model_root, "loras/plain.safetensors", color=None)
    await post(site, "/api/models/pending", {"path": str(model)})
    sha256 = (await post(site, "/api/models/sha256", {"path": str(model)}))["sha256"]
    assert sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    await page.goto("/")
    card = page.locator(f'.card[data-sha256="{sha256}"]')
    await expect(card.locator(".placeholder")).to_be_visible()
    await page.evaluate("window.notReloaded = true")
    await page.wait_for_timeout(300)

    write_preview(model, (40, 160, 60))
    await post(site, "/api/jobs", {"kind": "scan"})  # what the watcher starts when the picture lands
    await expect(card.locator("img")).to_be_visible(timeout=20_000)
    assert await card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert await page.evaluate("window.notReloaded === true")  # the same page, never reloaded


async def test_a_person_sets_a_preview_from_the_model_view_and_removes_it(stack, site, page, tmp_path):
    model = write_model(stack.model_root, "loras/mine.safetensors", color=None)
    await post(site, "/api/models/pending", {"path": str(model)})
    sha256 = (await post(site, "/api/models/sha256", {"path": str(model)}))["sha256"]
    chosen = tmp_path / "chosen.png"
    Image.new("RGB", (30, 20), (40, 80, 220)).save(chosen)
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_bytes(b"only words")

    provokes(page, 400)  # the picture that is none, refused on purpose
    await page.goto(f"/#/model/{sha256}")
    await expect(page.locator(".large-preview .placeholder")).to_be_visible()
    remove = page.get_by_role("button", name="Remove my picture")
    await expect(remove).to_be_hidden()  # nothing of the person's to remove yet
    await page.get_by_label("Choose a picture for mine").set_input_files(str(not_a_picture))
    await expect(page.locator(".own-preview .status")).to_contain_text("That was not accepted.")
    await expect(page.locator(".large-preview .placeholder")).to_be_visible()

    await page.get_by_label("Choose a picture for mine").set_input_files(str(chosen))
    await expect(page.locator(".own-preview .status")).to_have_text("Your picture is now the preview.")
    await expect(page.locator(".large-preview img")).to_be_visible()
    assert await page.locator(".large-preview img").evaluate("img => img.naturalWidth") == 30

    await remove.click()
    await expect(page.locator(".own-preview .status")).to_have_text("Your picture was removed.")
    await expect(page.locator(".large-preview .placeholder")).to_be_visible()
    await expect(remove).to_be_hidden()
    await page.reload()  # the model view knows whose the preview is
    await page.get_by_label("Choose a picture for mine").set_input_files(str(chosen))
    await expect(remove).to_be_visible()
    await page.reload()
    await expect(page.locator(".large-preview img")).to_be_visible()
    await expect(remove).to_be_visible()


async def test_the_watcher_shows_a_dropped_picture_on_the_open_card(stack, browser, aiohttp_server):
    model = write_model(stack.model_root, "loras/watched.safetensors", color=None)
    server = await aiohttp_server(create_app(stack.config(MODELVAULT_AUTO_SCAN="1", MODELVAULT_SETTLE_S="0")))
    async with open_tab(browser, str(server.make_url("")).rstrip("/")) as page:
        await page.goto("/")
        card = page.locator(".card").first
        await expect(card.locator(".placeholder")).to_be_visible(timeout=30_000)  # the start-up scan and hash
        await page.evaluate("window.notReloaded = true")
        write_preview(model, (220, 40, 40))
        await expect(card.locator("img")).to_be_visible(timeout=30_000)
        assert await page.evaluate("window.notReloaded === true")
