"""Asking the hub by SHA-256: the bulk call, the single call where a server refuses it, and the second hub.

Every request goes through one RateLimit; 429, 5xx, timeouts and lost connections are waited out and retried
a few times, then the batch fails (HubFailure). Redirects are never followed: an API that answers elsewhere is
not the server the person configured. An answer over MAX_ANSWER_BYTES, not JSON, or of the wrong shape is
refused whole (answers.py), so nothing of it reaches the catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from backend.server.hub.answers import AnswerError, HubVersion, match_bulk, match_single
from backend.server.hub.limits import Backoff, RateLimit, retry_after_s
from backend.util.hub_config import HubConfig

BULK_PATH = "/api/v1/model-versions/by-hash"
# Civitai takes at most this many hashes in one bulk call.
BULK_SIZE = 100
# 100 full model versions with their descriptions are about 1 MiB; far more is no answer to our question.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# Tries of one request before its batch fails (429, 5xx, timeouts, lost connections).
ATTEMPTS = 5
# A bulk call answered with one of these: the server does not have it (an older or partial API).
_BULK_REFUSED = frozenset({400, 404, 405})


class HubFailure(Exception):
    """The hub did not answer usably (down, failing, refused answer): the batch is failed, the message says why."""


@dataclass
class BatchAnswer:
    # sha256 -> (the version, the hub that knew it)
    found: dict[str, tuple[HubVersion, str]] = field(default_factory=dict)
    not_found: list[str] = field(default_factory=list)


class HubClient:
    """One job's client: a session of its own over the gateway's shared RateLimit."""

    def __init__(self, session: aiohttp.ClientSession, config: HubConfig, rate: RateLimit) -> None:
        self._session = session
        self._config = config
        self._rate = rate
        self._hubs = [url for url in (config.url, config.fallback_url) if url]
        # Hubs that refused the bulk call once: asked one hash at a time from then on.
        self._single_only: set[str] = set()

    async def look_up(self, hashes: Sequence[str]) -> BatchAnswer:
        """At most BULK_SIZE lower-case SHA-256s; the second hub is asked for what the first did not know."""
        answer = BatchAnswer()
        rest = list(hashes)
        for hub in self._hubs:
            if not rest:
                break
            for sha256, version in (await self._ask(hub, rest)).items():
                answer.found[sha256] = (version, hub)
            rest = [sha256 for sha256 in rest if sha256 not in answer.found]
        answer.not_found = rest
        return answer

    async def _ask(self, hub: str, hashes: list[str]) -> dict[str, HubVersion]:
        if hub not in self._single_only:
            status, body = await self._request("POST", hub + BULK_PATH, [h.upper() for h in hashes])
            if status == 200:
                return self._read(hub, body, lambda data: match_bulk(data, hashes))
            if status not in _BULK_REFUSED:
                raise HubFailure(f"{hub} answered HTTP {status} to the bulk look-up")
            self._single_only.add(hub)
        found = {}
        for sha256 in hashes:
            status, body = await self._request("GET", f"{hub}{BULK_PATH}/{sha256.upper()}")
            if status == 200:
                found[sha256] = self._read(hub, body, lambda data, wanted=sha256: match_single(data, wanted))
            elif status != 404:
                raise HubFailure(f"{hub} answered HTTP {status} to the look-up of {sha256}")
        return found

    @staticmethod
    def _read(hub: str, body: bytes, match):
        try:
            return match(json.loads(body))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            kind = "refused" if isinstance(exc, AnswerError) else "malformed JSON, refused"
            raise HubFailure(f"{hub} sent an answer that is not a model version ({kind}): {exc}") from None

    async def _request(self, method: str, url: str, body: Any = None) -> tuple[int, bytes]:
        """The status and the body of the first answer that is no 429, 5xx, timeout or lost connection."""
        backoff = Backoff(self._config.backoff_s)
        headers = {"Accept": "application/json"}
        if self._config.token:
            headers["Authorization"] = f"Bearer {self._config.token}"
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        last = ""
        for _ in range(ATTEMPTS):
            await self._rate.wait()
            try:
                async with self._session.request(method, url, json=body, headers=headers, timeout=timeout,
                                                 allow_redirects=False) as reply:
                    if reply.status == 429:
                        wait = retry_after_s(reply.headers.get("Retry-After"))
                        self._rate.hold(backoff.next_wait() if wait is None else wait)
                        last = "HTTP 429 (too many requests)"
                        continue
                    if reply.status >= 500:
                        self._rate.hold(backoff.next_wait())
                        last = f"HTTP {reply.status}"
                        continue
                    if 300 <= reply.status < 400:
                        raise HubFailure(f"{url} redirected to {reply.headers.get('Location', '?')!r}; "
                                         "a hub's redirects are not followed")
                    return reply.status, await read_capped(reply, MAX_ANSWER_BYTES, url)
            except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                self._rate.hold(backoff.next_wait())
                last = "no answer in time" if isinstance(exc, TimeoutError) else f"connection failed: {exc}"
        raise HubFailure(f"{url}: {last}, {ATTEMPTS} times")


async def read_capped(reply: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    """The body, or HubFailure as soon as it is known to be over limit bytes (said or sent)."""
    if reply.content_length is not None and reply.content_length > limit:
        raise HubFailure(f"{url} answered {reply.content_length:,} bytes, over the limit of {limit:,}: refused")
    chunks, size = [], 0
    async for chunk in reply.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise HubFailure(f"{url} answered over {limit:,} bytes: refused")
        chunks.append(chunk)
    return b"".join(chunks)
