"""A transaction that PostgreSQL ends to resolve a conflict (a deadlock, a serialization failure) is tried again.

Writers of model_metadata also update the models rows of those contents (the search columns' triggers), so a
metadata write and a batch promotion can each hold a row the other wants: PostgreSQL then ends one of them. The
ended transaction rolled back whole, so running it again is safe; only after the last try is the failure real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

log = logging.getLogger(__name__)

ATTEMPTS = 5
BACKOFF_S = 0.05
RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)

T = TypeVar("T")


async def retried(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """attempt() (one whole transaction), again while PostgreSQL ends it for a conflict, waiting longer each time."""
    for tried in range(1, ATTEMPTS + 1):
        try:
            return await attempt()
        except RETRYABLE as exc:
            if tried == ATTEMPTS:
                raise
            log.warning("%s: %s; trying again (%d of %d)", what, type(exc).__name__, tried + 1, ATTEMPTS)
            await asyncio.sleep(BACKOFF_S * tried)
    raise AssertionError("unreachable")
