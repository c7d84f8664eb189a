"""The page's files as the gateway serves them: from the package, with cache headers, nothing outside the folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backend.server.http.page import STATIC_DIR


async def test_the_page_is_served_at_the_root_and_revalidated_each_time(gateway):
    reply = await gateway.get("/")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    body = await reply.text()
    assert '<script type="module" src="/static/js/app.js">' in body
    again = await gateway.get("/", headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304
    since = await gateway.get("/", headers={"If-Modified-Since": reply.headers["Last-Modified"]})
    assert since.status == 304


async def test_every_module_the_page_imports_is_served_as_javascript(gateway):
    modules = sorted(path.name for path in (STATIC_DIR / "js").glob("*.js"))
    for name in modules:
        reply = await gateway.get(f"/static/js/{name}")
        assert reply.status == 200, name
        assert reply.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert reply.headers["Cache-Control"] == "public, max-age=60"
        assert reply.headers["ETag"]
        for imported in re.findall(r"'\./([\w-]+\.js)'", await reply.text()):
            assert imported in modules, (name, imported)
    css = await gateway.get("/static/style.css")
    assert (css.status, css.headers["Content-Type"]) == (200, "text/css; charset=utf-8")


@pytest.mark.parametrize("name", [
    "../page.py", "js/../../page.py", "%2e%2e/page.py", "index.html", "nothing.js", "js/app.py", "/etc/passwd",
])
async def test_nothing_outside_the_page_files_is_served(gateway, name):
    reply = await gateway.get(f"/static/{name}")
    assert reply.status == 404
    assert (await reply.json())["error"]["code"] == "not_found"


def test_the_page_files_are_in_the_built_package(tmp_path):
    """setuptools ships what pyproject's package-data names: every file the page uses is in the wheel."""
    project = Path(__file__).resolve().parents[2]
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(project / name, source / name)
    for package in ("backend", "services"):
        shutil.copytree(project / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(source)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("modelvault-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    page_files = {p.relative_to(project).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert page_files and page_files <= shipped, page_files - shipped
