"""The image service: Compress in a process pool, Link/Move/Delete in threads, errors mapped in one place."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import multiprocessing
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import grpc

from backend.util import image_store
from backend.util.config import Config
from backend.util.image_processor import (
    MAX_SOURCE_BYTES,
    BadImageError,
    SourceAccessError,
    SourceMissingError,
    compress_to_webp,
    prepare_worker,
)
from backend.util.image_store import InvalidKeyError, LinkOutcome, MoveOutcome, NotAFileError
from backend.util.model_paths import resolve_model_file
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.grpc_runtime import MODEL_PATH_STATUS, GrpcService

log = logging.getLogger(__name__)

SERVICE_NAME = images_pb2.DESCRIPTOR.services_by_name["ImageService"].full_name
T = TypeVar("T")


class RequestError(Exception):
    """A request that is malformed as a whole (no source given): INVALID_ARGUMENT."""


class WorkerCrashedError(Exception):
    """A worker process died mid-job (killed for memory, a decoder crash): INTERNAL."""


# The one place where our exceptions become gRPC statuses; the first matching class wins.
_STATUS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (RequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidKeyError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotAFileError, grpc.StatusCode.FAILED_PRECONDITION),
    (BadImageError, grpc.StatusCode.INVALID_ARGUMENT),
    (SourceMissingError, grpc.StatusCode.NOT_FOUND),
    (SourceAccessError, grpc.StatusCode.PERMISSION_DENIED),
    *MODEL_PATH_STATUS,
    (WorkerCrashedError, grpc.StatusCode.INTERNAL),
)

_LINK_OUTCOME = {
    LinkOutcome.LINKED: images_pb2.LINK_OUTCOME_LINKED,
    LinkOutcome.COPIED: images_pb2.LINK_OUTCOME_COPIED,
    LinkOutcome.TARGET_EXISTS: images_pb2.LINK_OUTCOME_TARGET_EXISTS,
    LinkOutcome.SOURCE_MISSING: images_pb2.LINK_OUTCOME_SOURCE_MISSING,
}
_MOVE_OUTCOME = {
    MoveOutcome.MOVED: images_pb2.MOVE_OUTCOME_MOVED,
    MoveOutcome.ALREADY_MOVED: images_pb2.MOVE_OUTCOME_ALREADY_MOVED,
    MoveOutcome.SOURCE_MISSING: images_pb2.MOVE_OUTCOME_SOURCE_MISSING,
}


def status_for(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The status and message a client sees for an exception raised while serving."""
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"no space left in the image store: {exc.strerror}"
    log.error("unexpected error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error in the image service ({type(exc).__name__})"


def _grpc_errors(
    handler: Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[T]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[T]]:
    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await handler(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            code, message = status_for(exc)
        await context.abort(code, message)
        raise AssertionError("unreachable: abort raises")

    return wrapper


class WorkerPool:
    """A spawn-context process pool that replaces itself when a worker dies."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        # spawn, not fork: gRPC's threads and locks do not survive fork once a server exists.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=prepare_worker,
        )

    async def run(self, job: Callable[[], T]) -> T:
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, job)
        except BrokenProcessPool:
            # A broken pool refuses every later job; one bad image must not take the service down.
            if self._pool is pool:
                self._pool = self._new()
                pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerCrashedError(
                "an image worker died while compressing (out of memory or a decoder crash)"
            ) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ImageServicer(images_pb2_grpc.ImageServiceServicer):
    def __init__(
        self, store: Path, model_roots: Sequence[Path], max_source_pixels: int, pool: WorkerPool
    ) -> None:
        self._store = store
        self._roots = tuple(model_roots)
        self._max_source_pixels = max_source_pixels
        self._pool = pool

    @_grpc_errors
    async def Compress(
        self, request: images_pb2.CompressRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.CompressResponse:
        dest = await asyncio.to_thread(image_store.writable_path, self._store, request.key)
        which = request.WhichOneof("source")
        source: Path | bytes
        if which == "source_path":
            model = await asyncio.to_thread(resolve_model_file, request.source_path, self._roots)
            source = model.resolved_path
        elif which == "source_bytes":
            source = request.source_bytes
            # Refused here too, so an oversized upload is never pickled over to a worker.
            if len(source) > MAX_SOURCE_BYTES:
                raise BadImageError(
                    f"source_bytes is {len(source):,} bytes, over the limit of {MAX_SOURCE_BYTES:,} bytes"
                )
        else:
            raise RequestError("one of source_path or source_bytes is required")
        job = functools.partial(
            compress_to_webp, source, dest, max_source_pixels=self._max_source_pixels
        )
        result = await self._pool.run(job)
        return images_pb2.CompressResponse(
            key=request.key, width=result.width, height=result.height, size_bytes=result.size_bytes
        )

    @_grpc_errors
    async def Link(
        self, request: images_pb2.LinkRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.LinkResponse:
        outcome = await asyncio.to_thread(
            image_store.link, self._store, request.source_key, request.target_key
        )
        return images_pb2.LinkResponse(outcome=_LINK_OUTCOME[outcome])

    @_grpc_errors
    async def Move(
        self, request: images_pb2.MoveRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.MoveResponse:
        outcome = await asyncio.to_thread(
            image_store.move, self._store, request.source_key, request.target_key
        )
        return images_pb2.MoveResponse(outcome=_MOVE_OUTCOME[outcome])

    @_grpc_errors
    async def Delete(
        self, request: images_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.DeleteResponse:
        deleted = await asyncio.to_thread(image_store.delete, self._store, request.key)
        return images_pb2.DeleteResponse(deleted=deleted)


def build_service(config: Config) -> GrpcService:
    """The image service over config's store and model roots; the pool stops with the server."""
    pool = WorkerPool(config.images.workers)
    servicer = ImageServicer(
        config.images_dir, config.model_roots, config.images.max_source_pixels, pool
    )
    return GrpcService(
        config.images.listen,
        lambda server: images_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server),
        [SERVICE_NAME],
        on_stop=pool.shutdown,
        # Uploaded previews travel in the request: room for the largest source we accept, plus framing.
        max_receive_bytes=MAX_SOURCE_BYTES + 1024 * 1024,
        max_connection_age_s=config.grpc_max_connection_age_s,
    )
