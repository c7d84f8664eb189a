"""A multipart body, even a malformed one (no boundary), is refused as a body that is not JSON: 415, never 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

POST_ROUTES = ["/api/models/sha256", "/api/models/pending", "/api/models/pending/hash", "/api/models/scan"]


# Found by the schema fuzzer (test_openapi.py): aiohttp's request.post() raised ValueError on it (a 500).
@pytest.mark.parametrize("route", POST_ROUTES)
async def test_multipart_without_a_boundary_is_a_415(gateway: TestClient, route: str) -> None:
    reply = await gateway.post(route, data=b"{}", headers={"Content-Type": "multipart/form-data"})
    assert reply.status == 415
    body = await reply.json()
    assert set(body["error"]) == {"code", "message"}
