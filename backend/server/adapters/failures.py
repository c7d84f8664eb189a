"""What a call to the hasher or the image service fails with, as the use cases decide on it.

No HTTP here: use cases catch these by type (a file's own failure lets a batch go on, an outage stops it), and
the error middleware (http/errors.py) alone gives each its HTTP status. `code` is the failure's name in the
API's bodies and job results; `message` is what a client may read (an outage never quotes gRPC's details,
which name internal addresses and sockets).
"""

from __future__ import annotations


class ServiceFailure(Exception):
    """A call to one of the services failed."""

    code = "bad_gateway"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.message = message


class ServiceDown(ServiceFailure):
    """The service did not answer (UNAVAILABLE): no file is at fault, so a batch stops and says which service."""

    code = "unavailable"


class DeadlineExceeded(ServiceFailure):
    """The service did not answer within the call's deadline."""

    code = "deadline_exceeded"


class CallCancelled(ServiceFailure):
    """The call was cancelled before the service answered."""

    code = "cancelled"


class DiskFull(ServiceFailure):
    """The image service said its disk is full (gRPC's own size limits say RESOURCE_EXHAUSTED too: not this)."""

    code = "insufficient_storage"


class ServiceBroke(ServiceFailure):
    """The service failed in a way no file explains: an unexpected status, an answer over gRPC's limits."""


class FileFailed(ServiceFailure):
    """This one file could not be handled: a batch reports it and goes on with the others."""


class FileMissing(FileFailed):
    """No such file (NOT_FOUND)."""

    code = "not_found"


class AccessDenied(FileFailed):
    """Outside the model roots, or not readable by the service (PERMISSION_DENIED)."""

    code = "permission_denied"


class FileChanged(FileFailed):
    """The file changed while it was read (ABORTED): it is read again once it has stood still."""

    code = "aborted"


class FileUnreadable(FileFailed):
    """Reading the file failed (an I/O error, a file another process holds; INTERNAL or DATA_LOSS)."""


class BadArgument(FileFailed):
    """The service does not take what it was given for this file: a bad path, not a regular file, no thumbnail.

    `code` is the API's word for it: invalid_parameter (the service's INVALID_ARGUMENT), failed_precondition,
    out_of_range.
    """

    def __init__(self, service: str, message: str, code: str = "invalid_parameter") -> None:
        super().__init__(service, message)
        self.code = code


class BadImage(BadArgument):
    """The image service refused the picture: not an image, truncated, a decompression bomb, too large."""


class ImageCrashed(FileFailed):
    """The image service failed on this picture (INTERNAL: the worker decoding it died, or an unexpected error):
    the same picture would most likely crash it again, so it is that picture's failure."""
