"""GET /api/openapi.json describes the real routes, and a schema-driven fuzzer finds no server error."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from backend.server.http.openapi import DOCUMENT
from backend.server.instance import create_app
from backend.util.config import Config
from tests.stack_process import free_port, stack_env, start_stack, stop_stack

SPEC = json.loads(DOCUMENT.read_text())
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every API route, as OpenAPI spells templates: {key}, not {key:.+}."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp adds one beside every GET
            continue
        template = route.resource.canonical.replace("{key:.+}", "{key}")
        if template == "/" or template.startswith("/static/"):
            continue  # the page's files, not the REST API
        found.add((route.method.lower(), template))
    return found


def test_the_document_names_exactly_the_routes_the_gateway_serves(config: Config) -> None:
    described = {(method, path) for path, item in SPEC["paths"].items() for method in item if method in HTTP_METHODS}
    assert described == _routes(create_app(config))


async def test_the_gateway_serves_the_document(gateway) -> None:
    reply = await gateway.get("/api/openapi.json")
    assert reply.status == 200 and reply.content_type == "application/json"
    assert await reply.json() == SPEC


@pytest.fixture(scope="module")
def live_gateway() -> Iterator[str]:
    """The whole stack as `make run` starts it (embedded PostgreSQL, both services), on a real TCP port."""
    # Our own folder, not pytest's: another pytest run on the machine may prune pytest's while we run.
    root = Path(tempfile.mkdtemp(prefix="modelvault-fuzz-"))
    models = root / "models"
    models.mkdir()
    (models / "model.safetensors").write_bytes(b"weights")
    port = free_port()
    env = stack_env(models.resolve(), root / "data", port,
                    MODELVAULT_HASHER_WORKERS="1", MODELVAULT_IMAGES_WORKERS="1")
    process = start_stack(env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_stack(process)
        shutil.rmtree(root, ignore_errors=True)


schema = schemathesis.openapi.from_path(Path(DOCUMENT))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_server_error(case, live_gateway: str) -> None:
    response = case.call(base_url=live_gateway, timeout=30)
    assert response.status_code < 500, (case.as_curl_command(), response.status_code, response.text[:500])
