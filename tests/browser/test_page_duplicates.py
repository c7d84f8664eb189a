"""The duplicates view in a real browser: files that share one hash, and the space the copies take."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.library import add_library, post


async def test_copies_of_one_model_are_grouped_with_the_space_they_waste(stack, site, page):
    [model, _] = await add_library(site, stack.model_root, ["sd/original.safetensors", "sd/unique.safetensors"],
                                   sizes=[250_000, 1000])
    copy = stack.model_root / "backup" / "original-copy.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(model.path.read_bytes())
    await post(site, "/api/models/sha256", {"path": str(copy)})
    await page.goto("/")
    await page.get_by_role("link", name="Duplicates").click()
    await expect(page.locator("#duplicates .status")).to_have_text(
        "1 model stored more than once; 244.1 KiB could be freed.")
    group = page.locator(".group")
    await expect(group).to_have_count(1)
    await expect(group.locator(".path")).to_have_text(sorted([str(model.path), str(copy)]))
    await expect(group).to_contain_text("2 copies of 244.1 KiB")
    await group.get_by_role("link", name="original").click()
    await expect(page.locator("#model .files tbody tr")).to_have_count(2)
