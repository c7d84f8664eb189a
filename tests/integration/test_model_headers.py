"""What files say about themselves, end to end: the hasher's ReadHeaders over gRPC, and the `headers` job that
stores it per SHA-256 beside the other tools' metadata, shown by GET /api/models/{sha256}."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.server import build_service
from tests import model_layouts as layouts
from tests.conftest import make_config
from tests.integration.conftest import Stack
from tests.integration.gateway_support import write_preview
from tests.integration.jobs_helpers import finished, register


@pytest.fixture
async def stub(model_root: Path, data_dir: Path) -> AsyncIterator[hasher_pb2_grpc.HasherServiceStub]:
    service = build_service(make_config([model_root], data_dir))
    port = await service.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield hasher_pb2_grpc.HasherServiceStub(channel)
    await service.stop(grace=0)


async def test_read_headers_answers_each_path_alone(
    stub: hasher_pb2_grpc.HasherServiceStub, model_root: Path, tmp_path: Path
) -> None:
    xl = layouts.write_safetensors(model_root / "xl.safetensors", layouts.sdxl_checkpoint())
    lora = layouts.write_safetensors(model_root / "loras/alice.safetensors", layouts.kohya_lora(768),
                                     layouts.kohya_metadata())
    quant = layouts.write_gguf(model_root / "llm.gguf", "llama", name="Tiny", file_type=15, context_length=4096,
                               quantized_tensors=1)
    (model_root / "old.ckpt").write_bytes(b"\x80\x04not really a pickle")
    (model_root / "cut.safetensors").write_bytes(xl.read_bytes()[:40])
    (tmp_path / "outside.safetensors").write_bytes(xl.read_bytes())
    (model_root / "escape.safetensors").symlink_to(tmp_path / "outside.safetensors")
    (model_root / "folder.safetensors").mkdir()
    paths = [str(p) for p in (xl, lora, quant, model_root / "old.ckpt", model_root / "cut.safetensors",
                              model_root / "escape.safetensors", model_root / "gone.safetensors",
                              model_root / "folder.safetensors")]

    reply = await stub.ReadHeaders(hasher_pb2.ReadHeadersRequest(paths=paths))

    answers = {Path(h.path).name: h for h in reply.headers}
    assert [h.path for h in reply.headers] == paths
    assert (answers["xl.safetensors"].model_type, answers["xl.safetensors"].architecture) == ("checkpoint", "sdxl")
    assert answers["xl.safetensors"].identity.size == xl.stat().st_size
    alice = answers["alice.safetensors"]
    assert (alice.model_type, alice.architecture, alice.trigger_words[:2]) == ("lora", "sd1", ["1girl", "alice"])
    assert json.loads(alice.facts_json)["training"]["network_dim"] == 16
    assert (answers["llm.gguf"].format, json.loads(answers["llm.gguf"].facts_json)["quantization"]) == (
        "gguf", "Q4_K_M")
    assert (answers["old.ckpt"].format, answers["old.ckpt"].model_type) == ("pickle", "unknown")
    assert answers["cut.safetensors"].header_error.startswith("truncated")
    assert not answers["cut.safetensors"].HasField("file_error")
    codes = {name: answers[name].file_error.code for name in ("escape.safetensors", "gone.safetensors",
                                                                "folder.safetensors")}
    assert codes == {"escape.safetensors": grpc.StatusCode.PERMISSION_DENIED.value[0],
                     "gone.safetensors": grpc.StatusCode.NOT_FOUND.value[0],
                     "folder.safetensors": grpc.StatusCode.INVALID_ARGUMENT.value[0]}


async def test_read_headers_reads_the_header_only(stub: hasher_pb2_grpc.HasherServiceStub, model_root: Path) -> None:
    # A LoRA whose 8 GiB of tensor data is a hole: only its header exists on disk, and the answer comes at once.
    path = layouts.write_safetensors(model_root / "huge.safetensors", layouts.kohya_lora(2048, sdxl=True))
    os.truncate(path, 8 * 1024**3)
    reply = await stub.ReadHeaders(hasher_pb2.ReadHeadersRequest(paths=[str(path)]), timeout=10)
    assert (reply.headers[0].model_type, reply.headers[0].architecture) == ("lora", "sdxl")


async def test_read_headers_refuses_more_than_a_thousand_paths(stub: hasher_pb2_grpc.HasherServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ReadHeaders(hasher_pb2.ReadHeadersRequest(paths=["/x"] * 1001))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_read_thumbnail_returns_the_embedded_image_or_says_why_not(
    stub: hasher_pb2_grpc.HasherServiceStub, model_root: Path, tmp_path: Path
) -> None:
    with_one = layouts.write_safetensors(model_root / "a.safetensors", layouts.kohya_lora(768),
                                         {"modelspec.thumbnail": "data:image/jpeg;base64," + base64.b64encode(
                                             b"\xff\xd8 jpeg").decode()})
    without = layouts.write_safetensors(model_root / "b.safetensors", layouts.kohya_lora(768))
    outside = layouts.write_safetensors(tmp_path / "c.safetensors", layouts.kohya_lora(768))
    reply = await stub.ReadThumbnail(hasher_pb2.ReadThumbnailRequest(path=str(with_one)))
    assert (reply.image, reply.media_type) == (b"\xff\xd8 jpeg", "image/jpeg")
    for path, code in ((without, grpc.StatusCode.FAILED_PRECONDITION), (outside, grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ReadThumbnail(hasher_pb2.ReadThumbnailRequest(path=str(path)))
        assert caught.value.code() == code


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _hash_all(gateway: TestClient, paths: list[Path]) -> None:
    await register(gateway, paths)
    reply = await gateway.post("/api/jobs", json={"kind": "hash"})
    assert (await finished(gateway, (await reply.json())["id"]))["state"] == "done"


async def _headers_job(gateway: TestClient, **params) -> dict:
    reply = await gateway.post("/api/jobs", json={"kind": "headers", **params})
    assert reply.status == 202, await reply.text()
    done = await finished(gateway, (await reply.json())["id"])
    assert done["state"] == "done", done
    return done


async def _metadata(gateway: TestClient, sha256: str) -> dict:
    reply = await gateway.get(f"/api/models/{sha256}")
    assert reply.status == 200
    return (await reply.json())["metadata"]


async def test_the_headers_job_stores_what_each_content_says_with_its_source(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    root = stack.model_root
    lora = layouts.write_safetensors(root / "loras/alice.safetensors", layouts.kohya_lora(768),
                                     layouts.kohya_metadata())
    copy = root / "backup/alice.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(lora.read_bytes())
    vae = layouts.write_safetensors(root / "vae/ae.safetensors", layouts.vae(16))
    quant = layouts.write_gguf(root / "unet/flux-Q4_K.gguf", "flux", name="FLUX.1 dev", quantized_tensors=2)
    broken = root / "broken.safetensors"
    broken.write_bytes(b"\xff" * 64)
    await _hash_all(gateway, [lora, copy, vae, quant, broken])

    done = await _headers_job(gateway)

    # Four contents (the copy shares the LoRA's), each read once; a broken header is a note, not an error.
    assert (done["files_total"], done["files_done"], done["errors"]) == (4, 4, 0)
    assert {k: done["result"][k] for k in ("read", "header_errors", "changed", "error_count")} == {
        "read": 4, "header_errors": 1, "changed": 0, "error_count": 0}
    alice = await _metadata(gateway, _sha(lora))
    assert alice["model_type"] == {"value": "lora", "source": "safetensors"}
    assert alice["architecture"] == {"value": "sd1", "source": "safetensors"}
    assert alice["trigger_words"]["value"] == ["1girl", "alice", "smile", "outdoors", "smiling"]
    assert alice["training"]["value"]["steps"] == 1200 and alice["title"]["value"] == "Alice"
    ae = await _metadata(gateway, _sha(vae))
    assert (ae["model_type"]["value"], ae["latent_channels"]["value"]) == ("vae", 16)
    flux = await _metadata(gateway, _sha(quant))
    assert flux["architecture"] == {"value": "flux", "source": "gguf"}
    assert (flux["quantization"]["value"], flux["title"]["value"]) == ("Q4_K", "FLUX.1 dev")
    assert flux["parameter_count"]["value"] == 2 * (2 * 256)  # two tensors of 2 x 256 weights, counted
    bad = await _metadata(gateway, _sha(broken))
    assert bad["header_error"]["source"] == "safetensors"
    assert "over the 100000000-byte limit" in bad["header_error"]["value"]
    # A page of the library carries the short facts, not the long ones (the detail view has those).
    page = await (await gateway.get("/api/models", params={"q": "loras/alice"})).json()
    listed = page["items"][0]["metadata"]
    assert (listed["model_type"], listed["architecture"], listed["trigger_words"][0]) == ("lora", "sd1", "1girl")
    assert "training" not in listed and "embedded_metadata" not in listed
    # Read once: a second job finds nothing new to read.
    again = await _headers_job(gateway)
    assert again["files_total"] == 0 and again["result"]["read"] == 0
    assert await db.fetchval("SELECT count(DISTINCT sha256) FROM model_metadata WHERE field = 'format'") == 4


async def test_another_tools_knowledge_of_a_field_is_kept_and_refresh_reads_again(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    lora = layouts.write_safetensors(stack.model_root / "a.safetensors", layouts.kohya_lora(2048, sdxl=True))
    await _hash_all(gateway, [lora])
    sha256 = _sha(lora)
    await db.execute("""INSERT INTO model_metadata (sha256, field, value, source)
                        VALUES ($1, 'model_type', '"LORA"', 'civitai'),
                               ($1, 'network', '"stale"', 'safetensors'),
                               ($1, 'left_over', '1', 'safetensors')""", sha256)

    await _headers_job(gateway, refresh=True)

    metadata = await _metadata(gateway, sha256)
    assert metadata["model_type"] == {"value": "LORA", "source": "civitai"}  # the hub's answer wins
    assert metadata["architecture"] == {"value": "sdxl", "source": "safetensors"}
    assert metadata["network"] == {"value": "lora", "source": "safetensors"}  # a header replaces a header
    assert "left_over" not in metadata  # what the header no longer says goes


async def test_a_file_changed_since_its_hash_waits_and_a_folder_limits_the_job(
    stack: Stack, gateway: TestClient
) -> None:
    inside = layouts.write_safetensors(stack.model_root / "sd2/emb.safetensors", layouts.sd1_embedding())
    other = layouts.write_safetensors(stack.model_root / "other/emb.safetensors", layouts.sdxl_embedding())
    await _hash_all(gateway, [inside, other])
    os.utime(inside, ns=(0, 10**9))

    done = await _headers_job(gateway, folder=str(stack.model_root / "sd2"))

    assert done["result"]["changed"] == 1 and done["result"]["read"] == 0
    assert "format" not in await _metadata(gateway, _sha(inside))
    assert "format" not in await _metadata(gateway, _sha(other))
    done = await _headers_job(gateway, folder=str(stack.model_root / "other"))
    assert (await _metadata(gateway, _sha(other)))["architecture"]["value"] == "sdxl"


def _png(size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _thumbnail(content: bytes) -> dict[str, str]:
    return {"modelspec.title": "With a picture",
            "modelspec.thumbnail": "data:image/png;base64," + base64.b64encode(content).decode()}


async def test_an_embedded_thumbnail_becomes_the_preview_of_a_model_that_has_none(
    stack: Stack, gateway: TestClient, db: asyncpg.Connection
) -> None:
    root = stack.model_root
    bare = layouts.write_safetensors(root / "bare.safetensors", layouts.kohya_lora(768),
                                     _thumbnail(_png((40, 20), "blue")))
    with_preview = layouts.write_safetensors(root / "kept.safetensors", layouts.kohya_lora(1024),
                                             _thumbnail(_png((40, 20), "blue")))
    write_preview(root / "kept.preview.png", (30, 30), "red")
    not_an_image = layouts.write_safetensors(root / "odd.safetensors", layouts.kohya_lora(2048, sdxl=True),
                                             _thumbnail(b"GIF89a but not really"))
    async with gateway.post("/api/models/scan", json={}) as reply:
        assert reply.status == 200, await reply.text()
    await _hash_all(gateway, [])

    done = await _headers_job(gateway)

    assert done["result"]["previews"] == 1
    assert [e["path"] for e in done["result"]["thumbnail_errors"]] == [str(not_an_image)]
    files = {Path(r["path"]).name: r["image_key"] for r in await db.fetch("SELECT path, image_key FROM models")}
    assert files == {"bare.safetensors": f"{_sha(bare)}.webp", "kept.safetensors": f"{_sha(with_preview)}.webp",
                     "odd.safetensors": None}
    with Image.open(stack.data_dir / "images" / f"{_sha(bare)}.webp") as adopted:
        assert adopted.size == (40, 20)
    with Image.open(stack.data_dir / "images" / f"{_sha(with_preview)}.webp") as kept:
        assert kept.size == (30, 30)  # the side-car preview, not the thumbnail
    assert sorted(p.name for p in (stack.data_dir / "images" / "pending").iterdir()) == []


async def test_a_bad_headers_job_is_refused(gateway: TestClient) -> None:
    for body, message in (({"kind": "headers", "refresh": "yes"}, "'refresh' must be true or false"),
                          ({"kind": "headers", "folder": "rel"}, "absolute"),
                          ({"kind": "headers", "limit": 3}, "unknown field")):
        reply = await gateway.post("/api/jobs", json=body)
        assert reply.status == 400
        assert message in (await reply.json())["error"]["message"]
    assert (await gateway.get("/api/jobs")).status == 200
    assert (await (await gateway.get("/api/jobs")).json())["items"] == []
