"""The HasherService servicer (Stat, Hash, HashStream) and build_service, the one place it is wired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import grpc

from backend.util.config import Config
from backend.util.model_files import find_models
from backend.util.model_paths import ModelFile, resolve_model_file, resolve_model_folder
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.grpc_runtime import GrpcService
from services.hasher import legacy, shadow
from services.hasher.coalesce import Coalescer
from services.hasher.pool import HashJob, HashPool
from services.hasher.status import status_for

log = logging.getLogger(__name__)

SERVICE_NAME = hasher_pb2.DESCRIPTOR.services_by_name["HasherService"].full_name

# HashStream sends progress whenever this much more is hashed or this much time has passed.
PROGRESS_BYTES = 256 * 1024 * 1024
PROGRESS_INTERVAL_S = 0.5
# How often the stream reads the worker's counter; also bounds how late a progress message can be.
_POLL_S = 0.05

FileKey = tuple[int, int, int, int]
_SIDECAR_BATCH = 256


class HasherServicer(hasher_pb2_grpc.HasherServiceServicer):
    """Checks paths, answers shadow files in dev mode, and hands real files to the shared pool."""

    def __init__(self, config: Config) -> None:
        self._roots = config.model_roots
        # cache.json may also lie in an import root (a web UI's own folder, beside its model folders).
        self._legacy_roots = (*config.model_roots, *config.import_roots,
                              *(root.resolve() for root in config.import_roots))
        self._dev = config.dev
        self.pool = HashPool(config.hasher.workers)
        self.coalescer: Coalescer[FileKey, HashJob] = Coalescer()

    def close(self) -> None:
        self.pool.close()

    async def Stat(self, request, context):
        async with _statuses(context):
            file = await self._resolve(request.path)
            return hasher_pb2.StatResponse(identity=_identity(file))

    async def Hash(self, request, context):
        async with _statuses(context):
            file = await self._resolve(request.path)
            if answer := self._shadow_answer(file, request.known_sha256):
                return hasher_pb2.HashResponse(digest=answer)
            with self._join(file) as job:
                sha256 = await asyncio.shield(job.task)
            return hasher_pb2.HashResponse(digest=_digest(file, sha256))

    async def HashStream(self, request, context):
        async with _statuses(context):
            file = await self._resolve(request.path)
            if answer := self._shadow_answer(file, request.known_sha256):
                yield hasher_pb2.HashStreamResponse(digest=answer)
                return
            with self._join(file) as job:
                yield _progress(0, file.size)
                async for done in _ticks(job):
                    yield _progress(done, file.size)
                sha256 = await asyncio.shield(job.task)
            yield hasher_pb2.HashStreamResponse(digest=_digest(file, sha256))

    async def ListModels(self, request, context):
        async with _statuses(context):
            folder = None
            if request.folder:
                folder = await asyncio.to_thread(resolve_model_folder, request.folder, self._roots)
            # One thread walks the whole tree (70,000 files list in seconds); the loop only streams.
            found = await asyncio.to_thread(lambda: list(find_models(self._roots, folder)))
            for model, preview in found:
                yield hasher_pb2.ListModelsResponse(identity=_identity(model), preview_path=str(preview or ""))

    async def ReadSidecars(self, request, context):
        async with _statuses(context):
            for path in request.paths:
                yield await asyncio.to_thread(legacy.path_reply, path, self._roots, _identity)
            if request.paths:
                return
            folder = None
            if request.folder:
                folder = await asyncio.to_thread(resolve_model_folder, request.folder, self._roots)
            found = await asyncio.to_thread(lambda: list(find_models(self._roots, folder)))
            # Side-cars are read in a thread, a batch at a time, so that the loop streams while the disk works.
            for start in range(0, len(found), _SIDECAR_BATCH):
                replies = await asyncio.to_thread(lambda batch=found[start:start + _SIDECAR_BATCH]: [
                    legacy.found_reply(model, preview, folder, self._roots, _identity) for model, preview in batch])
                for reply in replies:
                    yield reply

    async def ReadLegacyCache(self, request, context):
        async with _statuses(context):
            content = await asyncio.to_thread(legacy.read_legacy_cache, request.path, self._legacy_roots)
            return hasher_pb2.ReadLegacyCacheResponse(content=content)

    async def _resolve(self, path: str) -> ModelFile:
        # A thread, not the loop: resolving and stat-ing can stall on a slow or network disk.
        return await asyncio.to_thread(resolve_model_file, path, self._roots)

    def _shadow_answer(self, file: ModelFile, known_sha256: str) -> hasher_pb2.FileDigest | None:
        """Dev mode's digest for a shadow file, or None when the file must really be read."""
        known = shadow.parse_known_sha256(known_sha256)
        if not shadow.is_shadow(file, self._dev):
            return None
        return _digest(file, shadow.shadow_sha256(file, known), shadow=True)

    def _join(self, file: ModelFile) -> contextlib.AbstractContextManager[HashJob]:
        key = (file.device, file.inode, file.size, file.mtime_ns)
        path = str(file.resolved_path)
        return self.coalescer.join(key, lambda: self.pool.start(path, *key))


async def _ticks(job: HashJob) -> AsyncIterator[int]:
    """Bytes done, each time PROGRESS_BYTES more are hashed or PROGRESS_INTERVAL_S has passed, until the end."""
    last_time, last_bytes = time.monotonic(), 0
    while True:
        await asyncio.wait((job.task,), timeout=_POLL_S)
        if job.task.done():
            return
        now, done = time.monotonic(), job.bytes_done
        if now - last_time + _POLL_S >= PROGRESS_INTERVAL_S or done - last_bytes >= PROGRESS_BYTES:
            last_time, last_bytes = now, done
            yield done


@contextlib.asynccontextmanager
async def _statuses(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """Every handler runs inside this: our exceptions become a status with a clear message, bugs INTERNAL."""
    try:
        yield
    except grpc.aio.AbortError:
        raise
    except Exception as exc:
        status = status_for(exc)
        if status is None:
            log.exception("unexpected error in the hasher")
            status = (grpc.StatusCode.INTERNAL, "internal error in the hasher")
        await context.abort(*status)


def _identity(file: ModelFile) -> hasher_pb2.FileIdentity:
    return hasher_pb2.FileIdentity(
        resolved_path=str(file.resolved_path),
        size=file.size,
        mtime_ns=file.mtime_ns,
        inode=file.inode,
        device=file.device,
        relative_path=file.relative_path,
        model_root=str(file.model_root),
    )


def _digest(file: ModelFile, sha256: str, shadow: bool = False) -> hasher_pb2.FileDigest:
    return hasher_pb2.FileDigest(sha256=sha256, identity=_identity(file), shadow=shadow)


def _progress(done: int, total: int) -> hasher_pb2.HashStreamResponse:
    return hasher_pb2.HashStreamResponse(progress=hasher_pb2.HashProgress(bytes_done=done, bytes_total=total))


class HasherService(GrpcService):
    """The hasher's gRPC server; `servicer` exposes the pool and coalescer counters to tests and benchmarks."""

    def __init__(self, config: Config) -> None:
        self.servicer = HasherServicer(config)
        super().__init__(
            config.hasher.listen,
            register=lambda server: hasher_pb2_grpc.add_HasherServiceServicer_to_server(self.servicer, server),
            service_names=(SERVICE_NAME,),
            # After the server's grace: cancel what still runs and wait for the worker processes to exit.
            on_stop=self.servicer.close,
            max_connection_age_s=config.grpc_max_connection_age_s,
        )

    async def start(self) -> int:
        port = await super().start()
        # Only once the port is ours: a service that never starts never spawns processes it must reap.
        self.servicer.pool.warm_up()
        return port


def build_service(config: Config) -> HasherService:
    """The hasher, ready to start(); start() binds the port and spawns the workers, stop() reaps them."""
    return HasherService(config)
