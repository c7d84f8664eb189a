"""Real parts for the page's tests: the integration stack, the gateway on a TCP port, headless Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from backend.server.instance import create_app
from tests.browser.console import watch_errors
from tests.integration.conftest import database_url, postgres_dsn, stack  # noqa: F401 - the same real stack

CHROMIUM = Path(os.environ.get("MODELVAULT_CHROMIUM", "/usr/bin/chromium"))
# Headless, and nothing that reaches for the internet.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def unavailable(reason: str) -> None:
    if os.environ.get("MODELVAULT_REQUIRE_BROWSER"):
        pytest.fail(f"MODELVAULT_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("Python playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def site(stack, aiohttp_server) -> str:  # noqa: F811 - the fixture imported above
    """The gateway on a real TCP port, as a browser reaches it; its base URL without the trailing slash."""
    server = await aiohttp_server(create_app(stack.config()))
    return str(server.make_url("")).rstrip("/")


@asynccontextmanager
async def open_tab(browser, site: str, **options) -> AsyncIterator:
    """A fresh browser tab on the site; a script error in the page, or an error in its console, fails the test."""
    context = await browser.new_context(base_url=site, viewport={"width": 1280, "height": 900}, **options)
    tab = await context.new_page()
    errors = watch_errors(tab)
    try:
        yield tab
    finally:
        await context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
async def page(browser, site: str) -> AsyncIterator:
    async with open_tab(browser, site) as tab:
        yield tab
