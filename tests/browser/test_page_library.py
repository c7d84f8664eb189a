"""The library grid in a real browser: the right previews, the short hash and its copy button, the model view."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import open_tab
from tests.browser.console import provokes
from tests.browser.library import add_library, catalogue_rows, insert_models, post

# The colour of an <img>'s centre pixel as the browser decoded it.
CENTRE_PIXEL = """img => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return Array.from(ctx.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data.slice(0, 3));
}"""


def close(actual: list[int], expected: tuple[int, int, int]) -> bool:
    # WebP at quality 80 shifts a flat colour by a few levels at most.
    return all(abs(a - e) <= 12 for a, e in zip(actual, expected, strict=True))


async def test_grid_shows_each_model_with_its_own_preview(stack, site, page):
    models = await add_library(site, stack.model_root, ["loras/alpha.safetensors", "sd/beta.safetensors",
                                                        "sd/gamma.safetensors"])
    (stack.model_root / "plain.safetensors").write_bytes(b"no preview here")
    await page.goto("/")
    await expect(page.locator("#library .card")).to_have_count(3)
    await expect(page.locator("#library .status")).to_have_text("Showing 3 models of 3.")
    await expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    for model in models:
        card = page.locator(f'.card[data-sha256="{model.sha256}"]')
        await expect(card.locator("h3")).to_have_text(model.name)
        await expect(card.locator(".folder")).to_have_attribute("title", str(model.path.parent))
        # The folder as the person named it: relative to the model root.
        await expect(card.locator(".folder")).to_have_text(str(model.path.parent.relative_to(stack.model_root)))
        await expect(card.locator(".hash code")).to_have_text(model.sha256[:10])
        image = card.locator("img")
        await expect(image).to_have_attribute("src", f"/images/{model.sha256}.webp")
        await image.scroll_into_view_if_needed()
        await image.evaluate("img => img.decode()")  # resolves once the picture has loaded
        pixel = await image.evaluate(CENTRE_PIXEL)
        assert close(pixel, model.color), (model.name, pixel, model.color)


async def test_a_model_without_preview_gets_a_placeholder(stack, site, page):
    [model] = await add_library(site, stack.model_root, ["bare.safetensors"])
    model.path.with_suffix(".png").unlink()
    (stack.model_root / "other.safetensors").write_bytes(b"other bytes")
    await post(site, "/api/models/sha256", {"path": str(stack.model_root / "other.safetensors")})
    await page.goto("/")
    card = page.locator(".card", has_text="other")
    await expect(card.locator(".placeholder")).to_have_text("Unknown type")  # what it is, not letters of its name
    await expect(card.locator("img")).to_have_count(0)


async def test_copy_button_copies_the_full_hash(stack, site, browser):
    [model] = await add_library(site, stack.model_root, ["copyme.safetensors"])
    async with open_tab(browser, site, permissions=["clipboard-read", "clipboard-write"]) as tab:
        await tab.goto("/")
        await tab.get_by_role("button", name="Copy the full SHA-256 of copyme").click()
        await expect(tab.locator("#news")).to_contain_text("Copied the SHA-256 of copyme")
        assert await tab.evaluate("navigator.clipboard.readText()") == model.sha256


async def test_model_view_lists_every_file_with_that_content(stack, site, page):
    [model] = await add_library(site, stack.model_root, ["one/twin.safetensors"])
    copy = stack.model_root / "two" / "twin-copy.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(model.path.read_bytes())
    await post(site, "/api/models/sha256", {"path": str(copy)})
    await page.goto("/")
    await page.get_by_role("link", name="twin", exact=True).first.click()
    await expect(page.locator("#model h2")).to_have_text("twin")
    await expect(page.locator("#model h2")).to_be_focused()
    rows = page.locator("#model .files tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.locator("td.path")).to_have_text(sorted([str(model.path), str(copy)]))
    await expect(page.locator("#model .files caption")).to_have_text("2 files with this content")
    await expect(page.locator("#model .large-preview img")).to_have_attribute("src", f"/images/{model.sha256}.webp")


async def test_the_grid_asks_for_pages_as_the_person_scrolls(stack, site, page):
    await insert_models(stack.database_url, catalogue_rows(stack.model_root, 130, ["a", "b"]))
    provokes(page, 404)  # rows written for scale name previews no file backs
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/models?" in request.url else None)
    await page.goto("/")
    status = page.locator("#library .status")
    await expect(status).to_have_text("Showing 60 models of 130.")
    await expect(page.locator(".card")).to_have_count(60)
    await expect(page.get_by_role("button", name="Show more")).to_be_visible()
    # Scrolling down brings the next pages before the person reaches the end.
    await page.locator(".card").last.scroll_into_view_if_needed()
    await expect(page.locator(".card")).not_to_have_count(60)
    await page.locator(".card").last.scroll_into_view_if_needed()
    await expect(status).to_have_text("Showing 130 models of 130.")
    await expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    assert len(asked) == 3 and all("limit=60" in url for url in asked), asked
    sha256s = await page.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.sha256)")
    assert len(set(sha256s)) == 130


async def test_an_unknown_model_is_explained_in_words(stack, site, page):
    provokes(page, 404, 400)
    await page.goto(f"/#/model/{'0' * 64}")
    await expect(page.locator("#model .problem")).to_have_text(f"That was not found. No model has SHA-256 {'0' * 64}.")
    await page.goto("/#/model/not-a-hash")
    await expect(page.locator("#model .problem")).to_have_text(
        "That was not accepted. A SHA-256 is 64 hexadecimal digits.")
