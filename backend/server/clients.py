"""The gateway's two long-lived gRPC channels and thin async clients over them."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from backend.server.errors import ApiError, from_rpc_error
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from modelvault.images.v1 import images_pb2, images_pb2_grpc

T = TypeVar("T")
ProgressCallback = Callable[[int, int], Awaitable[None]]

# round_robin: with `dns:///hasher:50051` and N replicas, calls spread over all of them.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
_MAX_MESSAGE = 64 * 1024 * 1024


def open_channel(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            # Reconnect quickly when a replica comes back after a restart.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
            # The services close old connections (MODELVAULT_GRPC_MAX_CONNECTION_AGE_S); each reconnect may
            # then resolve DNS again, instead of at most every 30 s (the default), to find new replicas.
            ("grpc.dns_min_time_between_resolutions_ms", 1000),
        ],
    )


async def is_serving(channel: grpc.aio.Channel, timeout_s: float) -> bool:
    """The standard gRPC health check: False when down, slow, or NOT_SERVING."""
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
    except grpc.aio.AioRpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def _call(service: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc, service) from None


async def _collect(call) -> list:
    """Every message of a hasher stream, its failure mapped like any call's."""
    try:
        return [reply async for reply in call]
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc, "hasher") from None


class HasherClient:
    def __init__(self, channel: grpc.aio.Channel, rpc_timeout_s: float, hash_timeout_s: float) -> None:
        self._stub = hasher_pb2_grpc.HasherServiceStub(channel)
        self._rpc_timeout_s = rpc_timeout_s
        self._hash_timeout_s = hash_timeout_s

    async def stat(self, path: str) -> hasher_pb2.FileIdentity:
        reply = await _call("hasher", self._stub.Stat(hasher_pb2.StatRequest(path=path), timeout=self._rpc_timeout_s))
        return reply.identity

    async def hash(self, path: str, known_sha256: str = "", on_progress: ProgressCallback | None = None
                   ) -> hasher_pb2.FileDigest:
        """The digest; with on_progress, through the streaming call, reporting (bytes done, total) as it goes."""
        if on_progress is None:
            request = hasher_pb2.HashRequest(path=path, known_sha256=known_sha256)
            reply = await _call("hasher", self._stub.Hash(request, timeout=self._hash_timeout_s))
            return reply.digest
        stream = self._stub.HashStream(hasher_pb2.HashStreamRequest(path=path, known_sha256=known_sha256),
                                       timeout=self._hash_timeout_s)
        try:
            async for message in stream:
                if message.WhichOneof("event") == "digest":
                    return message.digest
                await on_progress(message.progress.bytes_done, message.progress.bytes_total)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "hasher") from None
        finally:
            stream.cancel()  # a no-op once it ended; stops the worker if our caller went away
        raise ApiError(502, "bad_gateway", "hasher service: the hash stream ended without a digest")


    async def list_models(self, folder: str = "") -> list[hasher_pb2.ListModelsResponse]:
        """Every model file under folder (every root when empty), as the hasher sees them."""
        return await _collect(self._stub.ListModels(hasher_pb2.ListModelsRequest(folder=folder),
                                                    timeout=self._hash_timeout_s))

    async def read_sidecars(self, folder: str = "", paths: Sequence[str] = ()
                            ) -> list[hasher_pb2.ReadSidecarsResponse]:
        """Every model file under folder (or the given files) with its side-car JSON files' bytes."""
        request = hasher_pb2.ReadSidecarsRequest(folder=folder, paths=list(paths))
        return await _collect(self._stub.ReadSidecars(request, timeout=self._hash_timeout_s))

    async def read_legacy_cache(self, path: str) -> bytes:
        """A web UI's cache.json, read by the hasher (the gateway may not see the model folders)."""
        request = hasher_pb2.ReadLegacyCacheRequest(path=path)
        reply = await _call("hasher", self._stub.ReadLegacyCache(request, timeout=self._rpc_timeout_s))
        return reply.content


class ImagesClient:
    """Also the PreviewStore that reactive migration uses."""

    def __init__(self, channel: grpc.aio.Channel, rpc_timeout_s: float) -> None:
        self._stub = images_pb2_grpc.ImageServiceStub(channel)
        self._timeout_s = rpc_timeout_s

    async def compress_file(self, source_path: str, key: str) -> images_pb2.CompressResponse:
        request = images_pb2.CompressRequest(source_path=source_path, key=key)
        return await _call("images", self._stub.Compress(request, timeout=self._timeout_s))

    async def link(self, source_key: str, target_key: str) -> bool:
        request = images_pb2.LinkRequest(source_key=source_key, target_key=target_key)
        reply = await _call("images", self._stub.Link(request, timeout=self._timeout_s))
        return reply.outcome != images_pb2.LINK_OUTCOME_SOURCE_MISSING

    async def delete(self, key: str) -> None:
        await _call("images", self._stub.Delete(images_pb2.DeleteRequest(key=key), timeout=self._timeout_s))
