"""A service's gRPC status as the failure it means (adapters/failures.py): the one place status codes are read."""

from __future__ import annotations

import logging

import grpc

from backend.server.adapters.failures import (
    AccessDenied,
    BadArgument,
    BadImage,
    CallCancelled,
    DeadlineExceeded,
    DiskFull,
    FileChanged,
    FileMissing,
    FileUnreadable,
    ImageCrashed,
    ServiceBroke,
    ServiceDown,
    ServiceFailure,
)
from backend.util.status_reasons import DISK_FULL, REASON_KEY

log = logging.getLogger(__name__)

BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}

# What the services answer about one file. The hasher's INTERNAL is a read error (EIO) or its unexpected failure
# on that file; the image service's is a worker that died decoding the picture, or its unexpected failure on it.
_FILE_FAILURES = {
    grpc.StatusCode.NOT_FOUND: FileMissing,
    grpc.StatusCode.PERMISSION_DENIED: AccessDenied,
    grpc.StatusCode.ABORTED: FileChanged,
}
_BAD_ARGUMENTS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE)
_BROKEN_ON_THE_FILE = {"hasher": FileUnreadable, "images": ImageCrashed}


def says_disk_full(exc: grpc.aio.AioRpcError, service: str) -> bool:
    """The image service's word that its disk is full: the one service that writes, and the reason it attaches."""
    if service != "images" or exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    return any(key == REASON_KEY and value == DISK_FULL for key, value in exc.trailing_metadata() or ())


def failure(exc: grpc.aio.AioRpcError, service: str) -> ServiceFailure:
    """A failed call as the failure it means."""
    return named(exc.code(), exc.details(), service, disk_full=says_disk_full(exc, service))


def named(code: grpc.StatusCode, details: str | None, service: str, *, disk_full: bool = False) -> ServiceFailure:
    """A status (a call's, or one file's within a batch answer) as the failure it means."""
    said = details or code.name
    if code in _FILE_FAILURES:
        return _FILE_FAILURES[code](service, said)
    if code in _BAD_ARGUMENTS:
        kind = BadImage if service == "images" else BadArgument
        # One code per mistake: a path the hasher refuses is the same mistake as a bad parameter of the API.
        word = "invalid_parameter" if code is grpc.StatusCode.INVALID_ARGUMENT else code.name.lower()
        return kind(service, said, word)
    if code == grpc.StatusCode.CANCELLED:
        return CallCancelled(service, said)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        if disk_full:
            return DiskFull(service, f"{service} service: {said}")
        # Requests are checked for size before any call (request_paths.py): what is left is the service's or ours.
        log.warning("%s service: RESOURCE_EXHAUSTED: %s", service, said)
        return ServiceBroke(service, f"the {service} service's answer, or the call to it, was over gRPC's size limits")
    # The rest quote nothing of the service's details to a client: they may name internal addresses and sockets.
    log.warning("%s service: %s: %s", service, code.name, said)
    if code == grpc.StatusCode.UNAVAILABLE:
        return ServiceDown(service, f"the {service} service is unavailable")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(service, f"the {service} service did not answer in time")
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.DATA_LOSS) and service in _BROKEN_ON_THE_FILE:
        return _BROKEN_ON_THE_FILE[service](service, f"the {service} service failed")
    return ServiceBroke(service, f"the {service} service failed")
