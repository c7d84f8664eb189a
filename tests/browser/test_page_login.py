"""The token form in a real browser: a gateway with MODELVAULT_API_TOKEN asks for it, and then everything works."""

from __future__ import annotations

from playwright.async_api import expect

from backend.server.instance import create_app
from tests.browser.console import provokes
from tests.browser.library import add_library

TOKEN = "correct-horse-battery-staple"


async def test_the_page_asks_for_the_token_and_keeps_it_for_the_session(stack, site, aiohttp_server, page):
    provokes(page, 401)  # the page's first requests, before the token is given
    [model] = await add_library(site, stack.model_root, ["loras/locked.safetensors"])
    guarded = await aiohttp_server(create_app(stack.config(MODELVAULT_API_TOKEN=TOKEN)))
    await page.goto(str(guarded.make_url("/")))

    form = page.get_by_role("dialog", name="Sign in")
    await expect(form).to_be_visible()
    await expect(page.locator(".card")).to_have_count(0)
    await form.get_by_label("Access token").fill("wrong")
    await form.get_by_role("button", name="Sign in").click()
    await expect(form.locator(".problem")).to_have_text("That token was not accepted. Check it and try again.")

    await form.get_by_label("Access token").fill(TOKEN)
    await form.get_by_role("button", name="Sign in").click()
    await expect(form).to_be_hidden()
    card = page.locator(f'.card[data-sha256="{model.sha256}"]')
    await expect(card).to_be_visible()
    # <img> cannot send a header: the gateway's cookie carries the sign-in, HttpOnly and named for this
    # instance; it holds no token, and the page keeps none where a script could read it.
    await card.locator("img").evaluate("img => img.decode()")
    [cookie] = [c for c in await page.context.cookies() if c["name"].startswith("modelvault_")]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")
    assert cookie["name"] != "modelvault_token" and TOKEN not in cookie["value"]
    assert await page.evaluate("document.cookie") == ""
    assert TOKEN not in await page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")

    await page.reload()
    await expect(card).to_be_visible()
    await expect(form).to_be_hidden()
