"""The hasher's legacy RPCs over real gRPC: side-cars and cache.json only, inside the roots, capped, never a model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.hasher.server import build_service
from tests.conftest import make_config


@pytest.fixture
async def stub(model_root: Path, data_dir: Path, tmp_path: Path) -> AsyncIterator[hasher_pb2_grpc.HasherServiceStub]:
    (tmp_path / "webui").mkdir()
    service = build_service(make_config([model_root], data_dir, MODELVAULT_IMPORT_ROOTS=str(tmp_path / "webui")))
    port = await service.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield hasher_pb2_grpc.HasherServiceStub(channel)
    await service.stop(grace=0)


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_read_legacy_cache_reads_only_a_cache_json_in_allowed_folders(
    stub: hasher_pb2_grpc.HasherServiceStub, model_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "webui" / "cache.json").write_bytes(b'{"hashes": {}}')
    reply = await stub.ReadLegacyCache(hasher_pb2.ReadLegacyCacheRequest(path=str(tmp_path / "webui/cache.json")))
    assert reply.content == b'{"hashes": {}}'
    (model_root / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "cache.json").write_bytes(b"{}")
    (model_root / "cache.json").symlink_to(tmp_path / "cache.json")
    os.truncate(tmp_path / "webui" / "cache.json", 33 * 1024 * 1024)
    cases = {
        str(model_root / "model.safetensors"): grpc.StatusCode.INVALID_ARGUMENT,  # never a model
        str(tmp_path / "cache.json"): grpc.StatusCode.PERMISSION_DENIED,
        str(model_root / "cache.json"): grpc.StatusCode.PERMISSION_DENIED,  # a symlink out of the roots
        str(tmp_path / "webui" / "cache.json"): grpc.StatusCode.INVALID_ARGUMENT,  # 33 MiB: refused by size
        str(model_root / "nope" / "cache.json"): grpc.StatusCode.NOT_FOUND,
        "relative/cache.json": grpc.StatusCode.INVALID_ARGUMENT,
    }
    for path, code in cases.items():
        assert await _code(stub.ReadLegacyCache(hasher_pb2.ReadLegacyCacheRequest(path=path))) == code, path


async def test_read_legacy_cache_tells_nothing_of_what_exists_outside_the_folders(
    stub: hasher_pb2_grpc.HasherServiceStub, tmp_path: Path
) -> None:
    """Outside the allowed folders every path gets the same answer, whatever is or is not there."""
    outside = tmp_path / "outside"
    (outside / "dir" / "cache.json").mkdir(parents=True)
    (outside / "cache.json").write_bytes(b"{}")
    (outside / "loop").mkdir()
    (outside / "loop" / "cache.json").symlink_to(outside / "loop" / "cache.json")
    paths = [outside / "cache.json", outside / "missing" / "cache.json", outside / "dir" / "cache.json",
             outside / "loop" / "cache.json", tmp_path / "webui" / ".." / "outside" / "cache.json"]
    answers = []
    for path in paths:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ReadLegacyCache(hasher_pb2.ReadLegacyCacheRequest(path=str(path)))
        answers.append((caught.value.code(), caught.value.details().replace(str(path), "PATH")))
    assert [code for code, _ in answers] == [grpc.StatusCode.PERMISSION_DENIED] * len(paths)
    assert {message for _, message in answers} == {"'PATH' is outside the model roots and MODELVAULT_IMPORT_ROOTS"}


async def test_read_sidecars_by_path_reports_each_bad_path_alone(
    stub: hasher_pb2_grpc.HasherServiceStub, model_root: Path
) -> None:
    model = model_root / "a.safetensors"
    model.write_bytes(b"weights")
    model.with_suffix(".cm-info.json").write_bytes(b"{}")
    (model_root / "a.png").write_bytes(b"picture")
    (model_root / "b.safetensors").write_bytes(b"small model")
    (model_root / "b.civitai.info").symlink_to(model_root / "b.safetensors")
    request = hasher_pb2.ReadSidecarsRequest(paths=[str(model), "/etc/passwd", str(model_root / "gone.pt")])
    replies = [reply async for reply in stub.ReadSidecars(request)]
    assert [bool(r.error) for r in replies] == [False, True, True]
    assert replies[0].identity.resolved_path == str(model) and replies[0].preview_path == str(model_root / "a.png")
    assert [(s.path, s.content) for s in replies[0].sidecars] == [(str(model.with_suffix(".cm-info.json")), b"{}")]
    request = hasher_pb2.ReadSidecarsRequest(paths=[str(model_root / "b.safetensors")])
    linked = [reply async for reply in stub.ReadSidecars(request)]
    assert [(s.content, "model file" in s.error) for s in linked[0].sidecars] == [(b"", True)]
