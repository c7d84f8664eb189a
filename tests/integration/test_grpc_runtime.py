"""What both services share, tried on both: reflection v1 and v1alpha, health, and light entry points."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from backend.util.config import PROJECT_ROOT, Config
from services.grpc_runtime import GrpcService
from services.hasher.server import build_service as build_hasher
from services.images.server import build_service as build_images

SERVICES = {
    "hasher": (build_hasher, "modelvault.hasher.v1.HasherService"),
    "images": (build_images, "modelvault.images.v1.ImageService"),
}


@pytest.fixture(params=sorted(SERVICES))
async def served(request, config: Config) -> AsyncIterator[tuple[grpc.aio.Channel, str]]:
    build, name = SERVICES[request.param]
    service: GrpcService = build(config)
    port = await service.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel, name
    finally:
        await service.stop(grace=0)


async def _reflect(channel: grpc.aio.Channel, version: str, **request) -> reflection_pb2.ServerReflectionResponse:
    # The v1 and v1alpha messages are the same on the wire; only the method's path differs.
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )(iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=10)
    (reply,) = [reply async for reply in call]
    return reply


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_lists_and_describes_the_service(served, version: str) -> None:
    channel, name = served
    listed = await _reflect(channel, version, list_services="")
    names = {service.name for service in listed.list_services_response.service}
    assert names == {
        name, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"
    }

    described = await _reflect(channel, version, file_containing_symbol=name)
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in described.file_descriptor_response.file_descriptor_proto]
    services = {f"{f.package}.{s.name}" for f in files for s in f.service}
    assert name in services


async def test_health_says_serving_for_the_server_and_the_service(served) -> None:
    channel, name = served
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", name):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_entry_points_import_no_grpc_so_spawned_workers_do_not(name: str) -> None:
    # A spawned worker imports the parent's __main__ module again (as __mp_main__): it must stay light.
    code = f"import sys, services.{name}.__main__; print(sorted(m for m in sys.modules if m.startswith('grpc')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{PROJECT_ROOT}:{PROJECT_ROOT / 'protos'}"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
