"""Jobs in a real browser: started from the page, followed live over the jobs' event stream, cancelled."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.library import register, write_big_model, write_model

GiB = 1 << 30
BAR_MOVING = """() => { const bar = document.querySelector('.job progress');
    return bar !== null && bar.value > 0 && bar.value < bar.max; }"""


async def test_hash_all_shows_live_progress_and_cancel_stops_it(stack, site, page):
    for index in range(4):
        model = write_big_model(stack.model_root, f"checkpoints/large_{index}.safetensors", 2 * GiB, (60, 60, 90))
        await register(site, model)
    await page.goto("/#/pending")
    await expect(page.locator(".pending-item")).to_have_count(4)
    await page.get_by_role("button", name="Hash all").click()

    await expect(page.get_by_role("heading", name="Jobs")).to_be_focused()
    job = page.locator(".job").first
    await expect(job.locator("h3")).to_have_text("Hash pending files")
    await page.wait_for_function(BAR_MOVING, timeout=60_000)
    await expect(job.locator(".state")).to_have_text("Running")
    await expect(job.locator(".amounts")).to_contain_text("of 4 files")
    await expect(job.locator(".amounts")).to_contain_text("GiB of 8.0 GiB")  # the unit the terminal uses too

    await job.get_by_role("button", name="Cancel Hash pending files").click()
    await expect(job.locator(".state")).to_have_text("Cancelled", timeout=30_000)
    await expect(job.get_by_role("button", name="Cancel Hash pending files")).to_be_hidden()
    await page.get_by_role("link", name="Pending", exact=True).click()
    # A cancelled job stops; the files it had not reached are still pending.
    await expect(page.locator("#pending .status")).not_to_have_text("Nothing is pending.")


async def test_scan_now_finds_new_files_and_lists_them_as_pending(stack, site, page):
    for name in ("fresh_one", "fresh_two"):
        write_model(stack.model_root, f"loras/{name}.safetensors")
    await page.goto("/#/pending")
    await expect(page.locator("#pending .status")).to_have_text("Nothing is pending.")
    await page.get_by_role("button", name="Scan now").click()
    job = page.locator(".job").first
    await expect(job.locator("h3")).to_have_text("Scan for new files")
    await expect(job.locator(".state")).to_have_text("Done", timeout=30_000)
    await expect(page.locator("#news")).to_contain_text("Scan for new files: finished.")
    await page.get_by_role("link", name="Pending", exact=True).click()
    await expect(page.locator(".pending-item")).to_have_count(2)
    assert sorted(await page.locator(".pending-item h3").all_text_contents()) == ["fresh_one", "fresh_two"]
    await expect(page.locator(".pending-item").first).to_contain_text("4.0 KiB")  # each file's size, as found
