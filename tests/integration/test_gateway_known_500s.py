"""Inputs that get a 500 today: each is a strict xfail, so that the fix shows up as a failure to remove it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

POST_ROUTES = ["/api/models/sha256", "/api/models/pending", "/api/models/pending/hash", "/api/models/scan"]


# Found by the schema fuzzer (test_openapi.py): aiohttp's request.post() raises ValueError on a multipart
# Content-Type without a boundary, and backend/server/params.read_params lets it through.
@pytest.mark.xfail(strict=True, reason="multipart/form-data without a boundary is a 500 (params.read_params)")
@pytest.mark.parametrize("route", POST_ROUTES)
async def test_multipart_without_a_boundary_is_a_400(gateway: TestClient, route: str) -> None:
    reply = await gateway.post(route, data=b"{}", headers={"Content-Type": "multipart/form-data"})
    assert reply.status == 400
    body = await reply.json()
    assert set(body["error"]) == {"code", "message"}
