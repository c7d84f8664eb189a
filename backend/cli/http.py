"""A small blocking client of the REST API: JSON in and out, streamed lines, and errors in words."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

# What `make run` listens on unless MODELVAULT_HTTP_HOST / MODELVAULT_HTTP_PORT say otherwise.
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", "8080"
# A gateway listening on every address is reached on this machine through loopback.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": DEFAULT_HOST}


def default_url(environ: Mapping[str, str]) -> str:
    """The gateway the way `make run` was configured: MODELVAULT_URL, else the gateway's own host and port."""
    if environ.get("MODELVAULT_URL"):
        return environ["MODELVAULT_URL"]
    host = environ.get("MODELVAULT_HTTP_HOST", DEFAULT_HOST).strip()
    host = _WILDCARDS.get(host, host)
    port = environ.get("MODELVAULT_HTTP_PORT", "").strip() or DEFAULT_PORT
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


# Plain requests answer at once; streams wait as long as a job runs between its events.
REQUEST_TIMEOUT_S = 60.0


class Unreachable(Exception):
    """No answer from the API at all (exit code 3)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the ModelVault API at {url}: {reason}")


class Refused(Exception):
    """The API answered with an error status; the message is its own, in words."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.body = status, code, body or {}


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.timeout | TimeoutError):
        return "no answer in time"
    text = getattr(reason, "strerror", None) or str(reason)
    return text[0].lower() + text[1:] if text else type(reason).__name__


def _refusal(exc: urllib.error.HTTPError) -> Refused:
    raw = exc.read()
    try:
        body = json.loads(raw)
        error = body["error"]
        return Refused(exc.code, str(error.get("code", "")), str(error["message"]), error)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = raw.decode("utf-8", "replace").strip().splitlines()
        words = text[0][:200] if text else exc.reason
        return Refused(exc.code, "", f"the API answered {exc.code}: {words}")


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.base_url}{path}{suffix}"

    @contextmanager
    def open(self, method: str, path: str, body: dict[str, Any] | None = None, *,
             query: dict[str, Any] | None = None, timeout: float | None = REQUEST_TIMEOUT_S) -> Iterator[Any]:
        """The raw response, for streaming; errors become Unreachable or Refused."""
        # Every job this program starts says so in its row (the page and `jobs show` tell who started a job).
        headers = {"Accept": "application/json", "X-ModelVault-Started-By": "cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url(path, query), data=data, headers=headers, method=method)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(self.base_url, _reason(exc)) from None
        with response:
            yield response

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
        with self.open(method, path, body, query={k: v for k, v in query.items() if v is not None}) as response:
            try:
                return json.loads(response.read())
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise Unreachable(self.base_url, f"the answer broke off ({_reason(exc)})") from None

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, **query)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, body if body is not None else {})

    def lines(self, method: str, path: str, body: dict[str, Any] | None = None) -> Iterator[str]:
        """The answer's lines as they arrive (SSE, NDJSON); ends when the server ends the answer."""
        with self.open(method, path, body, timeout=None) as response:
            try:
                for raw in response:
                    yield raw.decode("utf-8", "replace").rstrip("\r\n")
            except (OSError, http.client.HTTPException) as exc:
                raise Unreachable(self.base_url, f"the stream broke off ({_reason(exc)})") from None
