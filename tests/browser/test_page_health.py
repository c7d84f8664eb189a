"""The health banner in a real browser: a stopped image service is named in words, and the banner leaves by itself."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.console import provokes
from tests.browser.library import add_library


async def test_banner_names_the_stopped_image_service_and_goes_away_when_it_is_back(stack, site, page):
    provokes(page, 503)  # the health check's answer while the service is stopped
    await add_library(site, stack.model_root, ["loras/steady.safetensors"])
    await page.goto("/")
    await expect(page.locator(".card")).to_have_count(1)
    banner = page.locator("#health")
    await expect(banner).to_be_hidden()

    await stack.images.stop(grace=0)
    await expect(banner).to_be_visible(timeout=20_000)
    await expect(banner).to_have_text(
        "The image service is not available: new previews cannot be made until then. "
        "This message goes away by itself when it is back.")
    await expect(banner).to_have_attribute("role", "alert")

    await stack.restart_images()
    await expect(banner).to_be_hidden(timeout=20_000)
    await expect(page.locator(".card")).to_have_count(1)
