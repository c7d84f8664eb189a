"""The one mapping from the hasher's exceptions to gRPC status codes."""

from __future__ import annotations

import grpc

from backend.util.model_paths import (
    FileMissingError,
    InvalidPathError,
    NotRegularFileError,
    OutsideRootsError,
)
from services.hasher.errors import (
    BadKnownHashError,
    FileChangedError,
    ReadError,
    ShuttingDownError,
    UnreadableError,
    WorkerLostError,
)

_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InvalidPathError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotRegularFileError, grpc.StatusCode.INVALID_ARGUMENT),
    (BadKnownHashError, grpc.StatusCode.INVALID_ARGUMENT),
    (OutsideRootsError, grpc.StatusCode.PERMISSION_DENIED),
    (UnreadableError, grpc.StatusCode.PERMISSION_DENIED),
    (FileMissingError, grpc.StatusCode.NOT_FOUND),
    (FileChangedError, grpc.StatusCode.ABORTED),
    (WorkerLostError, grpc.StatusCode.UNAVAILABLE),
    (ShuttingDownError, grpc.StatusCode.UNAVAILABLE),
    (ReadError, grpc.StatusCode.INTERNAL),
)


def status_for(exc: Exception) -> tuple[grpc.StatusCode, str] | None:
    """The status and message a client sees for exc, or None for an unexpected error (a bug: log it)."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code, str(exc)
    return None
