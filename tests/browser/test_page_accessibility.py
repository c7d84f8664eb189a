"""Every view of the page through axe-core (served from disk), in light and dark, wide and narrow: no serious issue."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from backend.server.instance import create_app
from tests.browser.conftest import open_tab, unavailable
from tests.browser.library import add_library, register, run_job, write_model
from tests.integration.fake_hub import FakeHub, hub_running, image, png, version

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# The library also filtered by type and folder (its tree opened, a folder chosen) and searched.
VIEWS = ["#/library", "#/library?model_type=unknown&base_model=unknown&folder={root}/loras/style&q=ink",
         "#/pending", "#/jobs"]


@pytest.fixture
async def page(browser, site):
    """Injecting axe is what the page's own Content-Security-Policy rightly forbids: this tab ignores it."""
    async with open_tab(browser, site, bypass_csp=True) as tab:
        yield tab


async def serious_violations(page) -> list[str]:
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=AXE)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 1280), ("dark", 380), ("light", 390)])
async def test_no_serious_accessibility_issue_in_any_view(stack, site, page, scheme, width):
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make browser-tools)")
    [model] = await add_library(site, stack.model_root, ["loras/style/ink.safetensors"])
    await register(site, write_model(stack.model_root, "loras/waiting.safetensors"))
    await page.emulate_media(color_scheme=scheme)
    await page.set_viewport_size({"width": width, "height": 800})
    problems = {}
    for view in [*VIEWS, f"#/model/{model.sha256}"]:
        await page.goto(f"/{view.format(root=stack.model_root)}")
        await page.wait_for_load_state("networkidle")
        await expect(page.locator("main")).not_to_contain_text("Loading…")
        problems[view] = await serious_violations(page)
    assert problems == {view: [] for view in problems}
    # The filtered view did show what it was asked for: the model, its folder chosen and opened in the tree.
    await page.goto(f"/{VIEWS[1].format(root=stack.model_root)}")
    await expect(page.locator(".card")).to_have_count(1)
    # (On a phone the tree starts folded: the chosen folder is marked all the same.)
    chosen = page.locator(f'.tree button[data-folder="{stack.model_root}/loras/style"]')
    await expect(chosen).to_have_attribute("aria-pressed", "true")
    await expect(chosen).to_have_text("style 1")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_an_empty_library_has_no_serious_accessibility_issue(stack, site, page, scheme):
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make browser-tools)")
    await page.emulate_media(color_scheme=scheme)
    await page.goto("/")
    await expect(page.locator(".empty-library")).to_be_visible()
    assert await serious_violations(page) == []


async def test_a_keyboard_alone_moves_between_views_and_hashes_a_pending_file(stack, site, page):
    await add_library(site, stack.model_root, ["loras/keys.safetensors"])
    await register(site, write_model(stack.model_root, "loras/typed.safetensors"))
    await page.goto("/")
    await expect(page.locator(".card")).to_have_count(1)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for name in ("Library", "Pending"):
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name=name, exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Pending")).to_be_focused()
    hash_button = page.get_by_role("button", name="Hash this one: typed")
    for _ in range(10):
        if await hash_button.evaluate("b => b === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(hash_button).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#news")).to_contain_text("typed is in the library as")


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 1280), ("dark", 390), ("light", 390)])
async def test_the_hubs_pictures_have_no_serious_accessibility_issue_and_a_keyboard_chooses_one(
    stack, browser, aiohttp_server, scheme, width
):
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make browser-tools)")
    async with hub_running(FakeHub()) as hub:
        server = await aiohttp_server(create_app(stack.config(MODELVAULT_HUB_URL=hub.url,
                                                              MODELVAULT_HUB_REQUESTS_PER_S="1000")))
        site = str(server.make_url("")).rstrip("/")
        [model] = await add_library(site, stack.model_root, ["loras/ink.safetensors"])
        hub.files = {f"{n}.png": (png((60, 80), colour), "image/png") for n, colour in enumerate(("red", "blue"))}
        hub.versions = [version(model.sha256, images=[image(f"{hub.url}/images/{n}.png") for n in range(2)])]
        assert (await run_job(site, {"kind": "hub"}))["state"] == "done"
        async with open_tab(browser, site, bypass_csp=True) as page:
            await page.emulate_media(color_scheme=scheme)
            await page.set_viewport_size({"width": width, "height": 800})
            await page.goto(f"/#/model/{model.sha256}")
            section = page.get_by_role("region", name="Choose one of the hub’s pictures")
            await expect(section.get_by_role("img")).to_have_count(2)
            await page.wait_for_load_state("networkidle")
            assert await serious_violations(page) == []
            # Nothing wider than the screen: the pictures wrap.
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            use = section.get_by_role("button", name="Use this picture (2 of 2) as the preview")
            await use.focus()
            await page.keyboard.press("Enter")
            await expect(section.get_by_role("status")).to_have_text("The hub’s picture 2 is now your preview.")
            await expect(page.get_by_role("button", name="Remove my picture")).to_be_visible()
            assert await serious_violations(page) == []
