"""The gateway's two long-lived gRPC channels and thin async clients over them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from backend.server.adapters.failures import ServiceBroke, ServiceFailure
from backend.server.adapters.grpc_failures import BY_NUMBER, failure, named
from backend.util.file_identity import FileIdentity, HashedFile, ShortHashes
from backend.util.progress import Progress
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from modelvault.images.v1 import images_pb2, images_pb2_grpc

T = TypeVar("T")

# round_robin: with `dns:///hasher:50051` and N replicas, calls spread over all of them.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
_MAX_MESSAGE = 64 * 1024 * 1024
# A service's error quotes the path it was given, percent-encoded in the status's metadata: a 4,095-byte path
# of two-byte characters (the longest the gateway sends) takes about 12 KB there, twice that when quoted
# twice, past gRPC's default 8 KB, which would turn a "no such file" into RESOURCE_EXHAUSTED.
_MAX_METADATA = 64 * 1024
# Replicas come and go with a deployment, not from one job to the next: their workers are counted again
# at most this often (a count takes eight round trips, which every small job started by the watcher paid).
CAPACITY_TTL_S = 30.0


def open_channel(target: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_metadata_size", _MAX_METADATA),
            ("grpc.absolute_max_metadata_size", _MAX_METADATA),
            # Reconnect quickly when a replica comes back after a restart (and the health banner leaves within
            # about 2 s: a second between its checks, at most a second before the channel tries again).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 1000),
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
        raise failure(exc, service) from None


async def _collect(call) -> list:
    """Every message of a hasher stream, its failure mapped like any call's."""
    try:
        return [reply async for reply in call]
    except grpc.aio.AioRpcError as exc:
        raise failure(exc, "hasher") from None


def hashed_file(digest: hasher_pb2.FileDigest) -> HashedFile:
    """The file a digest describes, as it was when the hasher read it, with the short hashes that read gave."""
    short = None if digest.shadow else ShortHashes(digest.autov1 or None, digest.autov3 or None)
    return HashedFile(digest.identity.resolved_path, digest.sha256, FileIdentity.from_fields(digest.identity), short)


class HasherClient:
    def __init__(self, channel: grpc.aio.Channel, rpc_timeout_s: float, hash_timeout_s: float) -> None:
        self._stub = hasher_pb2_grpc.HasherServiceStub(channel)
        self._rpc_timeout_s = rpc_timeout_s
        self._hash_timeout_s = hash_timeout_s
        self._capacity: tuple[int, float] | None = None

    async def stat(self, path: str) -> hasher_pb2.FileIdentity:
        reply = await _call("hasher", self._stub.Stat(hasher_pb2.StatRequest(path=path), timeout=self._rpc_timeout_s))
        return reply.identity

    async def hash(self, path: str, known_sha256: str = "", on_progress: Progress | None = None
                   ) -> hasher_pb2.FileDigest:
        """The digest; with on_progress, through the streaming call, reporting bytes_done and bytes_total as it goes."""
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
                await on_progress(bytes_done=message.progress.bytes_done, bytes_total=message.progress.bytes_total)
        except grpc.aio.AioRpcError as exc:
            raise failure(exc, "hasher") from None
        finally:
            stream.cancel()  # a no-op once it ended; stops the worker if our caller went away
        raise ServiceBroke("hasher", "hasher service: the hash stream ended without a digest")


    async def list_models(self, folder: str = "") -> AsyncIterator[hasher_pb2.ListModelsResponse]:
        """The model files under folder (every root when empty) as the hasher sends them, a batch at a time.

        The first batch names the folders walked (its scope); no more than one batch is held here at once.
        """
        call = self._stub.ListModels(hasher_pb2.ListModelsRequest(folder=folder), timeout=self._hash_timeout_s)
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise failure(exc, "hasher") from None
        finally:
            call.cancel()  # a no-op once it ended; stops the walk if our caller gave up

    async def hash_many(self, paths: list[str]) -> list[hasher_pb2.FileDigest | ServiceFailure]:
        """Each file's digest, or its failure (FileFailed; ServiceDown when its worker was lost), in one call."""
        request = hasher_pb2.HashManyRequest(files=[hasher_pb2.HashRequest(path=path) for path in paths])
        reply = await _call("hasher", self._stub.HashMany(request, timeout=self._hash_timeout_s))
        return [
            result.digest if result.WhichOneof("outcome") == "digest"
            else named(BY_NUMBER.get(result.error.code, grpc.StatusCode.UNKNOWN), result.error.message, "hasher")
            for result in reply.results
        ]

    async def capacity(self, probes: int = 8) -> int:
        """Files the hasher service hashes at once: workers summed over the replicas that round-robin reached.

        Counted again once CAPACITY_TTL_S have passed since the last count.
        """
        if self._capacity is not None and time.monotonic() - self._capacity[1] < CAPACITY_TTL_S:
            return self._capacity[0]
        workers = await self._count_workers(probes)
        self._capacity = (workers, time.monotonic())
        return workers

    async def _count_workers(self, probes: int) -> int:
        workers: dict[str, int] = {}
        for _ in range(probes):
            try:
                reply = await self._stub.Capacity(hasher_pb2.CapacityRequest(), timeout=self._rpc_timeout_s)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    return max(1, sum(workers.values()))  # an older replica: count it as one worker
                raise failure(exc, "hasher") from None
            workers[reply.replica_id] = max(1, reply.workers)
        return sum(workers.values())

    async def read_sidecars(self, folder: str = "", paths: Sequence[str] = ()
                            ) -> list[hasher_pb2.ReadSidecarsResponse]:
        """Every model file under folder (or the given files) with its side-car JSON files' bytes."""
        request = hasher_pb2.ReadSidecarsRequest(folder=folder, paths=list(paths))
        return await _collect(self._stub.ReadSidecars(request, timeout=self._hash_timeout_s))

    async def read_headers(self, paths: Sequence[str]) -> list[hasher_pb2.ModelHeader]:
        """What each file's header says (or why the file could not be read), one answer per path, in order."""
        request = hasher_pb2.ReadHeadersRequest(paths=list(paths))
        reply = await _call("hasher", self._stub.ReadHeaders(request, timeout=self._hash_timeout_s))
        return list(reply.headers)

    async def read_thumbnail(self, path: str) -> bytes:
        """The image a safetensors file embeds in its header (FileFailed when it has none that decodes)."""
        request = hasher_pb2.ReadThumbnailRequest(path=path)
        reply = await _call("hasher", self._stub.ReadThumbnail(request, timeout=self._rpc_timeout_s))
        return reply.image

    async def read_legacy_cache(self, path: str) -> tuple[bytes, bytes]:
        """A web UI's cache.json, or its hashes/cache.db and that database's log, read by the hasher (the gateway
        may not see the model folders): (content, log)."""
        request = hasher_pb2.ReadLegacyCacheRequest(path=path)
        reply = await _call("hasher", self._stub.ReadLegacyCache(request, timeout=self._rpc_timeout_s))
        return reply.content, reply.wal


class ImagesClient:
    """Also the PreviewStore that reactive migration uses."""

    def __init__(self, channel: grpc.aio.Channel, rpc_timeout_s: float) -> None:
        self._stub = images_pb2_grpc.ImageServiceStub(channel)
        self._timeout_s = rpc_timeout_s

    async def compress_file(self, source_path: str, key: str) -> images_pb2.CompressResponse:
        request = images_pb2.CompressRequest(source_path=source_path, key=key)
        return await _call("images", self._stub.Compress(request, timeout=self._timeout_s))

    async def compress_image(self, image: bytes, key: str) -> images_pb2.CompressResponse:
        """Compress an image given as bytes (a model's embedded thumbnail, a hub's preview), with every check a
        file gets."""
        request = images_pb2.CompressRequest(source_image=image, key=key)
        return await _call("images", self._stub.Compress(request, timeout=self._timeout_s))

    async def link(self, source_key: str, target_key: str) -> bool:
        request = images_pb2.LinkRequest(source_key=source_key, target_key=target_key)
        reply = await _call("images", self._stub.Link(request, timeout=self._timeout_s))
        return reply.outcome != images_pb2.LINK_OUTCOME_SOURCE_MISSING

    async def delete(self, key: str) -> None:
        await _call("images", self._stub.Delete(images_pb2.DeleteRequest(key=key), timeout=self._timeout_s))
