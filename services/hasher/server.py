"""The HasherService servicer (Stat, Hash, HashStream, HashMany, ListModels, Capacity, ReadHeaders, ...)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc

from backend.util.config import Config
from backend.util.file_identity import FileIdentity
from backend.util.model_paths import ModelFile, resolve_model_file, resolve_model_folder
from backend.util.model_walk import FoundModel, Unlisted, find_models
from modelvault.hasher.v1 import hasher_pb2, hasher_pb2_grpc
from services.grpc_runtime import GrpcService
from services.hasher import legacy, shadow
from services.hasher.coalesce import Coalescer
from services.hasher.disks import DiskReaders
from services.hasher.header_reply import MAX_READ_HEADERS, header_reply, thumbnail_reply
from services.hasher.pool import HashJob, HashPool
from services.hasher.short_hashes import Digests
from services.hasher.status import STATUSES

SERVICE_NAME = hasher_pb2.DESCRIPTOR.services_by_name["HasherService"].full_name

# HashStream sends progress this often while a file is read: as often as a job shows it (4 times a second).
# The stream sleeps in between, so a file hashed faster than that costs no wake-up at all.
PROGRESS_INTERVAL_S = 0.25

# Files in one HashMany call.
MAX_HASH_MANY = 1000
# Files per ListModels message, as the proto documents.
LIST_BATCH = 500
_SIDECAR_BATCH = 256
# Paths per thread in one ReadHeaders call.
_HEADER_CHUNK = 64


class HasherServicer(hasher_pb2_grpc.HasherServiceServicer):
    """Checks paths, answers shadow files in dev mode, and hands real files to the shared pool."""

    def __init__(self, config: Config, pool: HashPool) -> None:
        self._roots = config.model_roots
        # cache.json may also lie in an import root (a web UI's own folder, beside its model folders).
        self._legacy_roots = (*config.model_roots, *config.import_roots,
                              *(root.resolve() for root in config.import_roots))
        self._dev = config.dev
        self.pool = pool
        # Calls for one unchanged file share one read, whatever path they name it by.
        self.coalescer: Coalescer[FileIdentity, HashJob] = Coalescer()
        # Host name (a container's id under compose), process, and a random part for several servers in one
        # process (tests): tells replicas apart in every digest and in Capacity.
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.workers = config.hasher.workers
        # Calls waiting on a real read now, and the most there ever were: what a client's queue sends us.
        self.reads_in_flight = 0
        self.reads_high_water = 0

    def close(self) -> None:
        self.pool.close()

    async def Stat(self, request, context):
        async with STATUSES.guard(context):
            file = await self._resolve(request.path)
            return hasher_pb2.StatResponse(identity=_identity(file))

    async def Hash(self, request, context):
        async with STATUSES.guard(context):
            file = await self._resolve(request.path)
            if answer := self._shadow_answer(file, request.known_sha256):
                return hasher_pb2.HashResponse(digest=answer)
            with self._reading(), self._join(file) as job:
                digests = await asyncio.shield(job.task)
            return hasher_pb2.HashResponse(digest=_digest(file, digests, self.replica_id))

    async def HashStream(self, request, context):
        async with STATUSES.guard(context):
            file = await self._resolve(request.path)
            if answer := self._shadow_answer(file, request.known_sha256):
                yield hasher_pb2.HashStreamResponse(digest=answer)
                return
            with self._reading(), self._join(file) as job:
                yield _progress(0, file.size)
                async for done in _ticks(job):
                    yield _progress(done, file.size)
                digests = await asyncio.shield(job.task)
            yield hasher_pb2.HashStreamResponse(digest=_digest(file, digests, self.replica_id))

    async def ListModels(self, request, context):
        async with STATUSES.guard(context):
            folder = None
            if request.folder:
                folder = await asyncio.to_thread(resolve_model_folder, request.folder, self._roots)
            scope = [str(folder)] if folder is not None else [str(root) for root in self._roots]
            # A thread walks the tree a batch at a time; the loop only streams, and gRPC's flow control keeps a
            # slow reader from making us hold the whole tree.
            walk = find_models(self._roots, folder)
            while True:
                batch = await asyncio.to_thread(lambda: list(itertools.islice(walk, LIST_BATCH)))
                yield _listed(batch, scope)
                scope = []
                if len(batch) < LIST_BATCH:
                    return

    async def HashMany(self, request, context):
        async with STATUSES.guard(context):
            if len(request.files) > MAX_HASH_MANY:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"HashMany takes at most {MAX_HASH_MANY} files; got {len(request.files)}")
            # One thread hop resolves them all: many shadow files are the reason this call exists.
            resolved = await asyncio.to_thread(lambda: [_try(resolve_model_file, f.path, self._roots)
                                                        for f in request.files])
            results = await asyncio.gather(*(self._one_of_many(item, file)
                                             for item, file in zip(request.files, resolved, strict=True)))
            return hasher_pb2.HashManyResponse(results=results)

    async def _one_of_many(self, item, file: ModelFile | Exception) -> hasher_pb2.HashManyResult:
        try:
            if isinstance(file, Exception):
                raise file
            if not (digest := self._shadow_answer(file, item.known_sha256)):
                with self._reading(), self._join(file) as job:
                    digest = _digest(file, await asyncio.shield(job.task), self.replica_id)
            return hasher_pb2.HashManyResult(path=item.path, digest=digest)
        except Exception as exc:  # noqa: BLE001 - each file's failure is its own answer
            code, message = STATUSES.status_for(exc)
            error = hasher_pb2.FileError(code=code.value[0], message=message)
            return hasher_pb2.HashManyResult(path=item.path, error=error)

    async def Capacity(self, request, context):
        return hasher_pb2.CapacityResponse(
            workers=self.workers, replica_id=self.replica_id, in_flight=self.reads_in_flight)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        self.reads_in_flight += 1
        self.reads_high_water = max(self.reads_high_water, self.reads_in_flight)
        try:
            yield
        finally:
            self.reads_in_flight -= 1

    async def ReadSidecars(self, request, context):
        async with STATUSES.guard(context):
            for path in request.paths:
                yield await asyncio.to_thread(legacy.path_reply, path, self._roots, _identity)
            if request.paths:
                return
            folder = None
            if request.folder:
                folder = await asyncio.to_thread(resolve_model_folder, request.folder, self._roots)
            walk = find_models(self._roots, folder)
            # Side-cars are read in a thread, a batch at a time, so that the loop streams while the disk works.
            while True:
                batch = await asyncio.to_thread(lambda: list(itertools.islice(walk, _SIDECAR_BATCH)))
                replies = await asyncio.to_thread(lambda batch=batch: [
                    legacy.found_reply(_model_file(item), item.preview, folder, self._roots, _identity)
                    for item in batch if isinstance(item, FoundModel)])
                for reply in replies:
                    yield reply
                if len(batch) < _SIDECAR_BATCH:
                    return

    async def ReadLegacyCache(self, request, context):
        async with STATUSES.guard(context):
            content, wal = await asyncio.to_thread(legacy.read_legacy_cache, request.path, self._legacy_roots)
            return hasher_pb2.ReadLegacyCacheResponse(content=content, wal=wal)

    async def ReadHeaders(self, request, context):
        async with STATUSES.guard(context):
            if len(request.paths) > MAX_READ_HEADERS:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"ReadHeaders takes at most {MAX_READ_HEADERS} paths; got {len(request.paths)}")
            # A few threads at once: a header is a small read, so waiting on the disk is most of its time.
            chunks = [request.paths[i:i + _HEADER_CHUNK] for i in range(0, len(request.paths), _HEADER_CHUNK)]
            answers = await asyncio.gather(*(asyncio.to_thread(
                lambda chunk=chunk: [header_reply(path, self._roots, self._dev, _identity) for path in chunk])
                for chunk in chunks))
            return hasher_pb2.ReadHeadersResponse(headers=[header for chunk in answers for header in chunk])

    async def ReadThumbnail(self, request, context):
        async with STATUSES.guard(context):
            return await asyncio.to_thread(thumbnail_reply, request.path, self._roots)

    async def _resolve(self, path: str) -> ModelFile:
        # A thread, not the loop: resolving and stat-ing can stall on a slow or network disk.
        return await asyncio.to_thread(resolve_model_file, path, self._roots)

    def _shadow_answer(self, file: ModelFile, known_sha256: str) -> hasher_pb2.FileDigest | None:
        """Dev mode's digest for a shadow file, or None when the file must really be read."""
        known = shadow.parse_known_sha256(known_sha256)
        if not shadow.is_shadow(file, self._dev):
            return None
        return _digest(file, Digests(shadow.shadow_sha256(file, known)), self.replica_id, shadow=True)

    def _join(self, file: ModelFile) -> contextlib.AbstractContextManager[HashJob]:
        identity = FileIdentity.from_fields(file)
        return self.coalescer.join(identity, lambda: self.pool.start(str(file.resolved_path), identity))


async def _ticks(job: HashJob) -> AsyncIterator[int]:
    """Bytes done, every PROGRESS_INTERVAL_S until the job ends."""
    while True:
        await asyncio.wait((job.task,), timeout=PROGRESS_INTERVAL_S)
        if job.task.done():
            return
        yield job.bytes_done


def _try(function, *args):
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - handed back as that file's answer
        return exc


def _model_file(found: FoundModel) -> ModelFile:
    return ModelFile(Path(found.path), Path(found.model_root), found.relative_path, found.size, found.mtime_ns,
                     found.inode, found.device)


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


def _listed(batch: list[FoundModel | Unlisted], scope: list[str]) -> hasher_pb2.ListModelsResponse:
    found = [item for item in batch if isinstance(item, FoundModel)]
    unlisted = [hasher_pb2.UnlistedFile(path=item.path, reason=item.reason)
                for item in batch if isinstance(item, Unlisted)]
    columns = hasher_pb2.FoundModels()
    if found:
        (paths, roots, relative, sizes, mtimes, inodes, devices, previews, sidecars, preview_sizes,
         preview_mtimes) = zip(*found, strict=True)
        columns = hasher_pb2.FoundModels(
            resolved_path=paths, size=sizes, mtime_ns=mtimes, inode=inodes, device=devices, relative_path=relative,
            model_root=roots, preview_path=[preview or "" for preview in previews], has_sidecar=sidecars,
            preview_size=preview_sizes, preview_mtime_ns=preview_mtimes)
    return hasher_pb2.ListModelsResponse(models=columns, unlisted=unlisted, scope=scope)


def _digest(file: ModelFile, digests: Digests, replica_id: str, shadow: bool = False) -> hasher_pb2.FileDigest:
    return hasher_pb2.FileDigest(sha256=digests.sha256, identity=_identity(file), shadow=shadow, replica_id=replica_id,
                                 autov1=digests.autov1, autov3=digests.autov3)


def _progress(done: int, total: int) -> hasher_pb2.HashStreamResponse:
    return hasher_pb2.HashStreamResponse(progress=hasher_pb2.HashProgress(bytes_done=done, bytes_total=total))


class HasherService(GrpcService):
    """The hasher's gRPC server; `servicer` holds the pool and the coalescer."""

    def __init__(self, config: Config) -> None:
        pool = HashPool(config.hasher.workers,
                        DiskReaders(config.hasher.rotational_devices, config.hasher.readers_per_disk),
                        config.hasher.autov3_max_bytes)
        self.servicer = HasherServicer(config, pool)
        super().__init__(
            config.hasher.listen,
            register=lambda server: hasher_pb2_grpc.add_HasherServiceServicer_to_server(self.servicer, server),
            service_names=(SERVICE_NAME,),
            # Only once the port is ours: a service that never starts never spawns processes it must reap.
            on_start=self.servicer.pool.warm_up,
            # After the server's grace: cancel what still runs and wait for the worker processes to exit.
            on_stop=self.servicer.close,
            max_connection_age_s=config.grpc_max_connection_age_s,
        )

    @property
    def files_hashed(self) -> int:
        """Files really read since start: concurrent calls for one file count once, dev-mode shadows never."""
        return self.servicer.coalescer.started


def build_service(config: Config) -> HasherService:
    """The hasher, ready to start(); start() binds the port and spawns the workers, stop() reaps them."""
    return HasherService(config)
