"""The compose deployment as a client uses it over HTTP: register, hash, migrate, serve previews, refuse bad paths."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

from PIL import Image

from tests.e2e.conftest import Api, RegisterPending, Stack


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_health_reports_every_part(api: Api) -> None:
    status, body = await api.get("/api/health")
    assert status == 200, body
    assert body == {"status": "ok", "database": "ok", "hasher": "ok", "images": "ok"}


async def test_pending_model_is_hashed_migrated_and_its_preview_served(
    api: Api, register_pending: RegisterPending
) -> None:
    registered = await register_pending()
    model, path, pending = registered.file, registered.path, registered.record
    assert pending["path"] == path
    assert pending["image_key"] == f"pending/{model.stem}.webp"
    assert path in [item["path"] for item in await api.all_items("/api/models/pending")]
    status, headers, body = await api.raw(pending["image_url"])
    assert status == 200 and headers["Content-Type"] == "image/webp"

    status, again = await api.post("/api/models/pending", {"path": path})
    assert status == 200, again

    status, answer = await api.hash(path, "pending")
    expected = sha256_of(model)
    assert status == 200, answer
    assert answer["sha256"] == expected
    assert answer["path"] == path
    assert answer["migrated"] is True

    status, by_hash = await api.get(f"/api/models/{expected}")
    assert status == 200, by_hash
    assert by_hash["sha256"] == expected
    assert [f["path"] for f in by_hash["files"]] == [path]
    (row,) = [item for item in await api.all_items("/api/models") if item["path"] == path]
    assert row["sha256"] == expected
    assert row["size"] == model.stat().st_size
    assert row["mtime_ns"] == model.stat().st_mtime_ns
    assert row["image_url"] == f"/images/{expected}.webp"
    assert path not in [item["path"] for item in await api.all_items("/api/models/pending")]

    status, headers, body = await api.raw(f"/images/{expected}.webp")
    assert status == 200
    assert headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "WEBP"
        assert image.size == (1200, 900)
    etag = headers["Etag"]
    status, _, _ = await api.raw(f"/images/{expected}.webp", headers={"If-None-Match": etag})
    assert status == 304
    status, _, _ = await api.raw(pending["image_url"])
    assert status == 404

    # Unchanged file: answered from the catalogue, the same digest, nothing migrated twice.
    status, cached = await api.hash(path, "pending")
    assert status == 200, cached
    assert (cached["sha256"], cached["cached"], cached["migrated"]) == (expected, True, False)


async def test_ignore_hashes_and_leaves_the_pending_record_alone(api: Api, register_pending: RegisterPending) -> None:
    registered = await register_pending()
    model, path, pending = registered.file, registered.path, registered.record

    status, answer = await api.hash(path, "ignore")
    assert status == 200, answer
    assert answer["sha256"] == sha256_of(model)
    assert answer["migrated"] is False

    assert path in [item["path"] for item in await api.all_items("/api/models/pending")]
    status, _, _ = await api.raw(pending["image_url"])
    assert status == 200
    status, _, _ = await api.raw(f"/images/{answer['sha256']}.webp")
    assert status == 404


async def test_bad_paths_and_input_are_refused(stack: Stack, api: Api) -> None:
    folder = stack.model().parent
    cases = [
        ({"path": "/etc/passwd", "pending_status": "ignore"}, 403),
        ({"path": "/models/../etc/passwd", "pending_status": "ignore"}, 403),
        ({"path": "/models/no/such/model.safetensors", "pending_status": "ignore"}, 404),
        ({"path": stack.in_container(folder), "pending_status": "ignore"}, 400),
        ({"pending_status": "ignore"}, 400),
        ({"path": stack.in_container(folder), "pending_status": "sometimes"}, 400),
    ]
    for body, expected in cases:
        status, answer = await api.post("/api/models/sha256", body)
        assert status == expected, (body, answer)
        assert set(answer["error"]) == {"code", "message"}, answer
    status, answer = await api.get("/api/models/" + "0" * 64)
    assert status == 404, answer


async def test_twenty_concurrent_requests_for_one_file_migrate_it_once(
    api: Api, register_pending: RegisterPending
) -> None:
    registered = await register_pending(size=8_000_000)
    model, path = registered.file, registered.path

    answers = await asyncio.gather(*(api.hash(path, "pending") for _ in range(20)))

    expected = sha256_of(model)
    assert [status for status, _ in answers] == [200] * 20, answers
    assert {body["sha256"] for _, body in answers} == {expected}
    status, by_hash = await api.get(f"/api/models/{expected}")
    assert status == 200, by_hash
    assert [f["path"] for f in by_hash["files"]] == [path]
    assert path not in [item["path"] for item in await api.all_items("/api/models/pending")]
    status, headers, _ = await api.raw(f"/images/{expected}.webp")
    assert status == 200 and headers["Content-Type"] == "image/webp"


async def test_images_service_down_loses_nothing_and_recovers(
    stack: Stack, api: Api, register_pending: RegisterPending
) -> None:
    registered = await register_pending()
    model, path, pending = registered.file, registered.path, registered.record
    expected = sha256_of(model)

    stack.run("stop", "images")
    try:
        status, answer = await api.hash(path, "pending")
        assert status == 503, answer
        assert set(answer["error"]) == {"code", "message"}, answer
        status, health = await api.get("/api/health")
        assert status == 503 and health["images"] != "ok", health

        assert path in [item["path"] for item in await api.all_items("/api/models/pending")]
        status, headers, _ = await api.raw(pending["image_url"])
        assert status == 200 and headers["Content-Type"] == "image/webp"
        status, by_hash = await api.get(f"/api/models/{expected}")
        assert status == 404, by_hash
    finally:
        stack.run("start", "images")
    await api.wait_healthy()

    status, answer = await api.hash(path, "pending")
    assert status == 200, answer
    assert answer["sha256"] == expected and answer["migrated"] is True
    status, by_hash = await api.get(f"/api/models/{expected}")
    assert status == 200 and [f["path"] for f in by_hash["files"]] == [path]
    status, headers, _ = await api.raw(f"/images/{expected}.webp")
    assert status == 200 and headers["Content-Type"] == "image/webp"
    status, _, _ = await api.raw(pending["image_url"])
    assert status == 404
