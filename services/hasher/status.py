"""The one mapping from the hasher's exceptions to gRPC status codes."""

from __future__ import annotations

import grpc

from backend.util.sidecar_files import SidecarError, SidecarMissingError, SidecarOutsideError
from services.grpc_runtime import MODEL_PATH_STATUS
from services.hasher.errors import (
    BadKnownHashError,
    FileChangedError,
    ReadError,
    ShuttingDownError,
    UnreadableError,
    WorkerLostError,
)

_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    *MODEL_PATH_STATUS,
    (BadKnownHashError, grpc.StatusCode.INVALID_ARGUMENT),
    (SidecarMissingError, grpc.StatusCode.NOT_FOUND),
    (SidecarOutsideError, grpc.StatusCode.PERMISSION_DENIED),
    (SidecarError, grpc.StatusCode.INVALID_ARGUMENT),
    (UnreadableError, grpc.StatusCode.PERMISSION_DENIED),
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
