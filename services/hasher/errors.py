"""The hasher's own exceptions: raised in workers and the servicer, turned into gRPC statuses by status.py."""

from __future__ import annotations

# Worker processes import this module, so it must stay free of grpc: keep it to plain exceptions.
# Every exception here takes one message argument, which keeps it picklable across the pool.
# A dead worker and a closing pool are services.process_pool's WorkerDiedError and PoolClosedError.


class HashError(Exception):
    """Base of the hasher's errors."""


class FileChangedError(HashError):
    """Size, mtime or identity differ between the check and the end of reading: ABORTED."""


class UnreadableError(HashError):
    """The file exists but may not be read (EACCES/EPERM): PERMISSION_DENIED."""


class ReadError(HashError):
    """Any other I/O failure while reading: INTERNAL."""


class HashCancelledError(HashError):
    """A worker saw its cancel flag and stopped; only seen by the pool, never by a client."""


class BadKnownHashError(HashError):
    """known_sha256 was given but is not 64 hex digits: INVALID_ARGUMENT."""
