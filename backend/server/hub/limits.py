"""Being a good citizen of someone else's server: a request rate, and how long to wait before asking again."""

from __future__ import annotations

import asyncio
import email.utils
import time
from datetime import UTC, datetime

# The longest any one wait lasts: a Retry-After of an hour is obeyed at most this long, then asked again.
MAX_WAIT_S = 30.0


class RateLimit:
    """At most `per_s` requests a second over every caller sharing it (one per gateway, for all its hub jobs)."""

    def __init__(self, per_s: float) -> None:
        self._interval = 1.0 / per_s
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = time.monotonic()
            self._next = now + self._interval

    def hold(self, seconds: float) -> None:
        """Nobody asks again for this long (the server said so, or is struggling)."""
        self._next = max(self._next, time.monotonic() + seconds)


class Backoff:
    """Waits of first_s, doubling, never over MAX_WAIT_S; reset once an answer came."""

    def __init__(self, first_s: float) -> None:
        self._first = first_s
        self._next = first_s

    def next_wait(self) -> float:
        wait = min(self._next, MAX_WAIT_S)
        self._next = min(self._next * 2, MAX_WAIT_S)
        return wait

    def reset(self) -> None:
        self._next = self._first


def retry_after_s(header: str | None) -> float | None:
    """Retry-After as seconds (a number of seconds, or an HTTP date); None when absent or unreadable."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return min(float(value), MAX_WAIT_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_WAIT_S)
