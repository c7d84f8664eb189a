"""The hasher's table of exceptions and the gRPC status each one becomes."""

from __future__ import annotations

import grpc

from backend.util.sidecar_files import SidecarError, SidecarMissingError, SidecarOutsideError
from services.grpc_status import MODEL_PATH_STATUS, Statuses
from services.hasher.errors import BadKnownHashError, FileChangedError, ReadError, UnreadableError
from services.hasher.headers.errors import HeaderError
from services.process_pool import PoolClosedError, WorkerDiedError

STATUSES = Statuses("hasher", (
    *MODEL_PATH_STATUS,
    (BadKnownHashError, grpc.StatusCode.INVALID_ARGUMENT),
    (SidecarMissingError, grpc.StatusCode.NOT_FOUND),
    (SidecarOutsideError, grpc.StatusCode.PERMISSION_DENIED),
    (SidecarError, grpc.StatusCode.INVALID_ARGUMENT),
    (UnreadableError, grpc.StatusCode.PERMISSION_DENIED),
    (FileChangedError, grpc.StatusCode.ABORTED),
    # Worth a retry: the pool is new, and the file is most likely fine (the worker was killed, not failed).
    (WorkerDiedError, grpc.StatusCode.UNAVAILABLE),
    (PoolClosedError, grpc.StatusCode.UNAVAILABLE),
    (ReadError, grpc.StatusCode.INTERNAL),
    # ReadThumbnail: the file has no thumbnail that decodes (ReadHeaders answers a bad header as a note).
    (HeaderError, grpc.StatusCode.FAILED_PRECONDITION),
))
