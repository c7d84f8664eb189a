"""Waiting for a condition with a deadline, the one way tests synchronise with things they do not drive."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    predicate: Callable[[], T | Awaitable[T]], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Call predicate (sync or async) until it returns something truthy, and return that; fail at the deadline.

    An exception from predicate counts as "not yet" (a service still starting), and is shown if time runs out.
    """
    deadline = time.monotonic() + timeout
    while True:
        last: object
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            last = result
        except Exception as exc:  # a condition that cannot be checked yet is not met yet
            result, last = None, exc
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout} s; last: {last!r}")
        await asyncio.sleep(interval)


def eventually_blocking(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.2, what: str = "") -> T:
    """eventually() for code without an event loop (a subprocess driven from a plain test or a benchmark)."""
    return asyncio.run(eventually(predicate, timeout, interval, what))
