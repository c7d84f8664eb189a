"""The image service: Compress in a process pool, Link and Delete in threads, errors mapped in one place."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import grpc

from backend.util import image_store
from backend.util.config import Config
from backend.util.image_keys import InvalidKeyError
from backend.util.image_processor import (
    BadImageError,
    SourceAccessError,
    SourceMissingError,
    compress_to_webp,
    prepare_worker,
)
from backend.util.image_store import LinkOutcome, NotAFileError
from backend.util.model_paths import resolve_model_file
from modelvault.images.v1 import images_pb2, images_pb2_grpc
from services.grpc_runtime import GrpcService
from services.grpc_status import MODEL_PATH_STATUS, Statuses
from services.process_pool import PoolClosedError, ProcessPool, WorkerDiedError

SERVICE_NAME = images_pb2.DESCRIPTOR.services_by_name["ImageService"].full_name

STATUSES = Statuses("image service", (
    (InvalidKeyError, grpc.StatusCode.INVALID_ARGUMENT),
    # The same code as a directory given as a model path (MODEL_PATH_STATUS): the caller named the wrong thing.
    (NotAFileError, grpc.StatusCode.INVALID_ARGUMENT),
    (BadImageError, grpc.StatusCode.INVALID_ARGUMENT),
    (SourceMissingError, grpc.StatusCode.NOT_FOUND),
    (SourceAccessError, grpc.StatusCode.PERMISSION_DENIED),
    *MODEL_PATH_STATUS,
    # Not worth a retry: the same image would most likely crash the decoder again.
    (WorkerDiedError, grpc.StatusCode.INTERNAL),
    (PoolClosedError, grpc.StatusCode.UNAVAILABLE),
))

_LINK_OUTCOME = {
    LinkOutcome.LINKED: images_pb2.LINK_OUTCOME_LINKED,
    LinkOutcome.COPIED: images_pb2.LINK_OUTCOME_COPIED,
    LinkOutcome.TARGET_EXISTS: images_pb2.LINK_OUTCOME_TARGET_EXISTS,
    LinkOutcome.SOURCE_MISSING: images_pb2.LINK_OUTCOME_SOURCE_MISSING,
}


def _discard_when_written(job: Future, dest: Path) -> None:
    """The caller gave up (its deadline passed, it went away): nobody will claim this preview, so it must not stay.

    A queued job is dropped; a running one cannot be stopped, so its file is removed once it is written.
    """
    if job.cancel():
        return

    def remove(done: Future) -> None:
        if done.exception() is None:
            dest.unlink(missing_ok=True)

    job.add_done_callback(remove)


class ImageServicer(images_pb2_grpc.ImageServiceServicer):
    def __init__(
        self, store: Path, model_roots: Sequence[Path], max_source_pixels: int, pool: ProcessPool
    ) -> None:
        self._store = store
        self._roots = tuple(model_roots)
        self._max_source_pixels = max_source_pixels
        self.pool = pool

    async def Compress(
        self, request: images_pb2.CompressRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.CompressResponse:
        async with STATUSES.guard(context):
            dest = await asyncio.to_thread(image_store.writable_path, self._store, request.key)
            if request.WhichOneof("source") == "source_image":
                # Bytes from elsewhere (an embedded thumbnail, a hub's preview): decoded by the same worker,
                # with the same limits.
                source: Path | bytes = request.source_image
            else:
                source = (await asyncio.to_thread(resolve_model_file, request.source_path, self._roots)).resolved_path
            job = functools.partial(compress_to_webp, source, dest, max_source_pixels=self._max_source_pixels)
            future = self.pool.submit(job)
            try:
                result = await self.pool.result(future)
            except asyncio.CancelledError:
                _discard_when_written(future, dest)
                raise
            return images_pb2.CompressResponse(
                key=request.key, width=result.width, height=result.height, size_bytes=result.size_bytes
            )

    async def Link(
        self, request: images_pb2.LinkRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.LinkResponse:
        async with STATUSES.guard(context):
            outcome = await asyncio.to_thread(
                image_store.link, self._store, request.source_key, request.target_key
            )
            return images_pb2.LinkResponse(outcome=_LINK_OUTCOME[outcome])

    async def Delete(
        self, request: images_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> images_pb2.DeleteResponse:
        async with STATUSES.guard(context):
            deleted = await asyncio.to_thread(image_store.delete, self._store, request.key)
            return images_pb2.DeleteResponse(deleted=deleted)


class ImageService(GrpcService):
    """The image service's gRPC server; `servicer` holds the worker pool."""

    def __init__(self, config: Config) -> None:
        # No warm-up: most runs compress nothing at first, and a worker is spawned on the first Compress.
        pool = ProcessPool("image", config.images.workers, prepare_worker)
        self.servicer = ImageServicer(config.images_dir, config.model_roots, config.images.max_source_pixels, pool)
        super().__init__(
            config.images.listen,
            register=lambda server: images_pb2_grpc.add_ImageServiceServicer_to_server(self.servicer, server),
            service_names=(SERVICE_NAME,),
            on_stop=pool.shutdown,
            max_connection_age_s=config.grpc_max_connection_age_s,
        )


def build_service(config: Config) -> ImageService:
    """The image service over config's store and model roots; start() spawns the workers, stop() reaps them."""
    return ImageService(config)
