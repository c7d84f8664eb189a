"""The model view's hub part in Chromium: what the hub said, a button that says what it sends, text never markup."""

from __future__ import annotations

import re

from playwright.async_api import expect

from backend.server.instance import create_app
from tests.browser.conftest import open_tab
from tests.browser.library import add_model, run_job
from tests.integration.fake_hub import FakeHub, hub_running, image, png, version


async def test_look_up_on_the_hub_sends_the_sha256_and_shows_what_came_back_as_text(
    stack, browser, aiohttp_server
):
    async with hub_running(FakeHub()) as hub:
        server = await aiohttp_server(create_app(stack.config(MODELVAULT_HUB_URL=hub.url,
                                                              MODELVAULT_HUB_REQUESTS_PER_S="1000")))
        site = str(server.make_url("")).rstrip("/")
        model = await add_model(site, stack.model_root, "loras/ink.safetensors", (40, 80, 220))
        model.path.with_suffix(".png").unlink()
        hub.files = {"pg.png": (png(), "image/png")}
        hub.versions = [version(model.sha256, images=[image(f"{hub.url}/images/pg.png")],
                                description='<p>Ink <b>lines</b></p><img src=x onerror="window.pwned=1">'
                                            '<script>window.pwned=2</script>')]
        async with open_tab(browser, site) as page:
            await page.goto(f"/#/model/{model.sha256}")
            section = page.locator("#model section.hub")
            await expect(section.locator(".hub-state")).to_have_text("Not looked up on the hub yet")
            button = page.get_by_role("button", name="Look up on the hub")
            await expect(button).to_have_accessible_description(
                "Sends this model’s SHA-256 to the hub the server is set up with, and nothing else: "
                "no file name, no path, no other data.")
            await button.click()

            await expect(section.locator(".hub-state")).to_contain_text("Found on the hub (checked ")
            link = section.get_by_role("link", name="Open its page")
            await expect(link).to_have_attribute("href", f"{hub.url}/models/827184?modelVersionId=2514310")
            await expect(page.locator("#model h2")).to_have_text("Ink Style")
            await expect(page.locator("#model .about table")).to_contain_text("Ink lines")
            assert await page.evaluate("window.pwned") is None
            await expect(page.locator("#model .about img")).to_have_count(0)
            # It had no preview: the hub's is now its own.
            await expect(page.locator("#model .large-preview img")).to_have_attribute(
                "src", f"/images/{model.sha256}.webp")
        assert hub.asked_hashes() == [model.sha256.upper()]


async def test_previews_the_hub_rates_above_the_persons_level_are_blurred_until_asked(
    stack, browser, aiohttp_server
):
    async with hub_running(FakeHub()) as hub:
        server = await aiohttp_server(create_app(stack.config(MODELVAULT_HUB_URL=hub.url,
                                                              MODELVAULT_HUB_REQUESTS_PER_S="1000")))
        site = str(server.make_url("")).rstrip("/")
        spicy = await add_model(site, stack.model_root, "loras/spicy.safetensors", (200, 40, 40))
        calm = await add_model(site, stack.model_root, "loras/calm.safetensors", (40, 200, 40))
        # The versions' ratings: X for one (bit 8, with PG images too), PG for the other.
        hub.versions = [version(spicy.sha256, version_id=1, model_id=11, nsfwLevel=8 | 1),
                        version(calm.sha256, version_id=2, model_id=12, nsfwLevel=1)]
        job = await run_job(site, {"kind": "hub"})
        assert job["state"] == "done" and job["result"]["found"] == 2, job
        async with open_tab(browser, site) as page:
            await page.goto("/#/library")
            card = page.locator("#library .card")
            setting = page.get_by_label("Blur previews rated above")
            await expect(setting).to_have_value("2")  # PG-13 unless the person chose otherwise
            await expect(card.filter(has_text="spicy").locator(".thumb")).to_have_class(re.compile(r"\bblurred\b"))
            await expect(card.filter(has_text="calm").locator(".thumb")).not_to_have_class(re.compile(r"\bblurred\b"))
            await setting.select_option(label="XXX: never blur")
            await expect(card.filter(has_text="spicy").locator(".thumb")).not_to_have_class(re.compile(r"\bblurred\b"))
            await setting.select_option(label="R")
            await page.reload()
            await expect(page.get_by_label("Blur previews rated above")).to_have_value("4")
            await expect(card.filter(has_text="spicy").locator(".thumb")).to_have_class(re.compile(r"\bblurred\b"))

            await page.goto(f"/#/model/{spicy.sha256}")
            large = page.locator("#model .large-preview")
            await expect(large).to_have_class(re.compile(r"\bblurred\b"))
            await page.get_by_role("button", name="Show the picture").click()
            await expect(large).not_to_have_class(re.compile(r"\bblurred\b"))


# The second picture (90 x 120) has been loaded: the sidecar preview and the others are 60 x 80.
LOADED = "img => img.complete && img.naturalWidth === 90"


async def test_a_person_chooses_the_hubs_second_picture_and_the_preview_shows_it_at_once(
    stack, browser, aiohttp_server
):
    async with hub_running(FakeHub()) as hub:
        server = await aiohttp_server(create_app(stack.config(
            MODELVAULT_HUB_URL=hub.url, MODELVAULT_HUB_REQUESTS_PER_S="1000", MODELVAULT_HUB_MAX_NSFW_LEVEL="2")))
        site = str(server.make_url("")).rstrip("/")
        model = await add_model(site, stack.model_root, "loras/ink.safetensors", (40, 160, 60))
        hub.files = {"one.png": (png((60, 80), "red"), "image/png"), "two.png": (png((90, 120), "blue"), "image/png"),
                     "three.png": (png((60, 80), "yellow"), "image/png")}
        hub.versions = [version(model.sha256, images=[
            image(f"{hub.url}/images/one.png"), image(f"{hub.url}/images/two.png", 2),
            image(f"{hub.url}/images/three.png")])]
        assert (await run_job(site, {"kind": "hub"}))["state"] == "done"
        async with open_tab(browser, site) as page:
            await page.goto("/")
            await page.evaluate("localStorage.setItem('modelvault.blurAbove', '1')")  # PG only
            await page.goto(f"/#/model/{model.sha256}")
            section = page.get_by_role("region", name="Choose one of the hub’s pictures")
            pictures = section.locator(".hub-picture")
            await expect(pictures).to_have_count(3)
            # Rated PG-13, above the person's PG: blurred as a preview would be.
            await expect(pictures.nth(1)).to_have_class(re.compile(r"\bblurred\b"))
            await expect(pictures.nth(0)).not_to_have_class(re.compile(r"\bblurred\b"))
            thumbnail = pictures.nth(1).get_by_role("img", name="The hub’s picture 2 of 3 of Ink Style")
            await expect(thumbnail).to_have_attribute(
                "src", f"/api/models/{model.sha256}/hub-pictures/1/thumbnail")
            await page.wait_for_function(LOADED, arg=await thumbnail.element_handle())
            remove = page.get_by_role("button", name="Remove my picture")
            await expect(remove).to_be_hidden()
            await page.evaluate("window.sameVisit = true")

            await section.get_by_role("button", name="Use this picture (2 of 3) as the preview").click()
            await expect(section.get_by_role("status")).to_have_text("The hub’s picture 2 is now your preview.")
            await expect(remove).to_be_visible()
            large = page.locator("#model .large-preview img")
            await page.wait_for_function(LOADED, arg=await large.element_handle())
            shown = await page.request.get(await large.get_attribute("src"))
            chosen = await page.request.get(f"/api/models/{model.sha256}/hub-pictures/1/thumbnail")
            assert await shown.body() == await chosen.body()
            assert await page.evaluate("window.sameVisit") is True  # no reload
        # Each fetched once by the gateway, for its thumbnail; choosing one fetched nothing again.
        assert sorted(s.path for s in hub.seen if s.path.startswith("/images/")) == [
            "/images/one.png", "/images/three.png", "/images/two.png"]
