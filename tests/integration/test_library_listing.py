"""GET /api/models at library scale (filters, orders, cursor paging) and GET /api/models/duplicates."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import asyncpg
from aiohttp.test_utils import TestClient

from tests.integration.conftest import Stack
from tests.integration.gateway_support import error_of, write_model

# (path, size, mtime_ns): names, sizes and dates in orders that differ from the paths'.
ROWS = [
    (f"/lib/{folder}/{name}.{ext}", size, mtime)
    for folder, name, ext, size, mtime in [
        ("Lora", "Zebra", "safetensors", 30, 5), ("Lora", "apple", "safetensors", 10, 9),
        ("Lora/style", "Mango_ink", "ckpt", 20, 1), ("VAE", "kiwi", "gguf", 50, 7),
        ("VAE", "banana", "safetensors", 40, 3), ("Lorax", "cherry", "pt", 60, 2),
        ("Lora", "date.v2", "safetensors", 5, 8),
    ]
]


async def _catalogue(gateway: TestClient, db: asyncpg.Connection) -> None:
    assert (await gateway.get("/api/health")).status in (200, 503)  # the gateway has migrated the schema
    await db.copy_records_to_table(
        "models", columns=["path", "sha256", "size", "mtime_ns", "inode", "device"],
        records=[(path, hashlib.sha256(path.encode()).hexdigest(), size, mtime, i, 1)
                 for i, (path, size, mtime) in enumerate(ROWS)])


async def _walk(gateway: TestClient, **params: str) -> tuple[list[str], list[int]]:
    """Every page of a listing, 2 at a time; the paths in order and the totals the pages gave."""
    params = {"limit": "2", **params}
    paths, totals = [], []
    while True:
        reply = await gateway.get("/api/models", params=params)
        assert reply.status == 200, await reply.text()
        body = await reply.json()
        paths += [item["path"] for item in body["items"]]
        totals.append(body["total"])
        if body["next_cursor"] is None:
            return paths, totals
        params["cursor"] = body["next_cursor"]


async def test_cursor_pages_follow_each_order(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    await _catalogue(gateway, db)
    by = {"path": lambda r: r[0], "size": lambda r: r[1], "date": lambda r: r[2],
          "name": lambda r: os.path.splitext(os.path.basename(r[0]))[0].lower()}
    for sort, key in by.items():
        for order in ("asc", "desc"):
            expected = [r[0] for r in sorted(ROWS, key=key, reverse=order == "desc")]
            assert await _walk(gateway, sort=sort, order=order) == (expected, [len(ROWS)] * 4), (sort, order)


async def test_filters_and_the_fields_of_an_item(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    await _catalogue(gateway, db)
    assert await _walk(gateway, q="LORA/") == (sorted(r[0] for r in ROWS if "/lora/" in r[0].lower()), [4, 4])
    assert (await _walk(gateway, folder="/lib/Lora"))[0] == sorted(r[0] for r in ROWS if r[0].startswith("/lib/Lora/"))
    assert (await _walk(gateway, type="safetensors", folder="/lib/Lora", sort="size")) == (
        ["/lib/Lora/date.v2.safetensors", "/lib/Lora/apple.safetensors", "/lib/Lora/Zebra.safetensors"], [3, 3])
    assert (await _walk(gateway, q="100%_"))[0] == []  # LIKE's wildcards are plain characters in q

    item = (await (await gateway.get("/api/models", params={"q": "date.v2"})).json())["items"][0]
    assert (item["name"], item["folder"], item["size"], item["metadata"]) == ("date.v2", "/lib/Lora", 5, {})
    first = await (await gateway.get("/api/models", params={"limit": "3", "offset": "5"})).json()
    assert ([i["path"] for i in first["items"]], first["total"]) == (sorted(r[0] for r in ROWS)[5:], 7)


async def test_bad_listing_parameters_answer_400_with_a_reason(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    await _catalogue(gateway, db)
    first = await (await gateway.get("/api/models", params={"limit": "2", "sort": "size"})).json()
    for params in ({"sort": "colour"}, {"order": "up"}, {"type": "exe"}, {"folder": "relative/dir"},
                   {"limit": "0"}, {"q": "x" * 201}, {"cursor": "not-a-cursor"}, {"cursor": "WzEsMiwzXQ"},
                   {"cursor": first["next_cursor"]}, {"cursor": first["next_cursor"], "sort": "name"},
                   {"cursor": first["next_cursor"], "sort": "size", "offset": "2"},
                   # Found by the schema fuzzer: PostgreSQL text holds no NUL, so these were 500s.
                   {"q": "a\x00b"}, {"folder": "/lib\x00"},
                   {"cursor": _forged(first["next_cursor"], 1, "/lib/a\x00"), "sort": "size"},
                   {"cursor": _forged(first["next_cursor"], 1, "/lib/\ud800"), "sort": "size"},
                   {"cursor": _forged(first["next_cursor"], 0, 2**70), "sort": "size"}):
        assert await error_of(await gateway.get("/api/models", params=params)) == (400, "invalid_parameter"), params


def _forged(cursor: str, index: int, value: object) -> str:
    """A cursor of ours with one part replaced, as a client could forge it: [filters, sort key, path, total]."""
    parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    parts[index + 1] = value
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


async def test_duplicates_count_files_not_links(stack: Stack, gateway: TestClient, db: asyncpg.Connection) -> None:
    content = b"the same weights" * 64
    original = write_model(stack.model_root, "a/original.safetensors", content)
    write_model(stack.model_root, "b/copy.safetensors", content)
    os.link(original, stack.model_root / "a/hardlink.safetensors")
    (stack.model_root / "a/symlink.safetensors").symlink_to(original)
    lonely = write_model(stack.model_root, "c/lonely.safetensors", b"one file, two names")
    os.link(lonely, stack.model_root / "c/lonely-link.safetensors")
    write_model(stack.model_root, "d/unique.safetensors", b"unique")
    await gateway.post("/api/models/scan", json={})
    hashed = await (await gateway.post("/api/models/pending/hash", json={})).json()
    assert len(hashed["hashed"]) == 6 and hashed["errors"] == []

    reply = await gateway.get("/api/models/duplicates")
    assert reply.status == 200
    body = await reply.json()
    digest = hashlib.sha256(content).hexdigest()
    assert (body["total_groups"], body["wasted_bytes"]) == (1, len(content))
    [group] = body["groups"]
    assert (group["sha256"], group["size"], group["count"], group["wasted_bytes"]) == (
        digest, len(content), 2, len(content))
    assert [f["path"] for f in group["files"]] == [
        str(stack.model_root / p) for p in ("a/hardlink.safetensors", "a/original.safetensors", "b/copy.safetensors")]
    assert (await (await gateway.get("/api/models/duplicates", params={"offset": "1"})).json())["groups"] == []
    assert await error_of(await gateway.get("/api/models/duplicates", params={"limit": "x"})) == (
        400, "invalid_parameter")
