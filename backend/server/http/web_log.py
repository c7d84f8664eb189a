"""Request logs at debug level: under `make run` the terminal shows jobs and errors, not every request."""

from __future__ import annotations

import logging

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse


class DebugAccessLogger(AccessLogger):
    """aiohttp's access log line, written at DEBUG instead of INFO (a refused request has its own info line)."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if self.enabled:
            self.logger.debug("%s %s %d %.1f ms", request.method, request.path_qs, response.status, time * 1000)
