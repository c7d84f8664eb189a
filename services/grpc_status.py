"""The one mechanism by which a service's exceptions become gRPC statuses, for both services."""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import AsyncIterator, Sequence

import grpc

from backend.util.model_paths import FileMissingError, InvalidPathError, NotRegularFileError, OutsideRootsError
from backend.util.status_reasons import DISK_FULL, REASON_KEY

log = logging.getLogger(__name__)

StatusTable = Sequence[tuple[type[Exception], grpc.StatusCode]]

# The shared path checks (backend/util/model_paths) answer alike in every service.
MODEL_PATH_STATUS: StatusTable = (
    (InvalidPathError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotRegularFileError, grpc.StatusCode.INVALID_ARGUMENT),
    (OutsideRootsError, grpc.StatusCode.PERMISSION_DENIED),
    (FileMissingError, grpc.StatusCode.NOT_FOUND),
)

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


class Statuses:
    """A service's table of (exception class, status); the first matching class wins."""

    def __init__(self, service: str, table: StatusTable) -> None:
        self._service = service
        self._table = tuple(table)

    def status_for(self, exc: BaseException) -> tuple[grpc.StatusCode, str]:
        """The status and message a client sees; anything unexpected is a bug: logged, INTERNAL."""
        for kind, code in self._table:
            if isinstance(exc, kind):
                return code, str(exc)
        if is_disk_full(exc):
            return grpc.StatusCode.RESOURCE_EXHAUSTED, f"no space left on the {self._service}'s disk: {exc.strerror}"
        log.error("unexpected error in the %s", self._service, exc_info=exc)
        return grpc.StatusCode.INTERNAL, f"internal error in the {self._service} ({type(exc).__name__})"

    @contextlib.asynccontextmanager
    async def guard(self, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        """Every handler, unary or streaming, runs inside this: an exception ends the call with its status."""
        try:
            yield
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            # The code alone would not tell a full disk from gRPC's own limits: the reason says it.
            reason = ((REASON_KEY, DISK_FULL),) if is_disk_full(exc) else ()
            await context.abort(*self.status_for(exc), trailing_metadata=reason)
