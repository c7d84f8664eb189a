"""Bounded: many jobs, a few at a time, none lost and no failure hidden."""

from __future__ import annotations

import asyncio

import pytest

from backend.util.bounded import Bounded


async def test_no_more_than_the_limit_run_at_once_and_all_finish() -> None:
    running, most, done = 0, 0, []
    release = asyncio.Event()

    async def job(index: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        done.append(index)

    async def producer() -> None:
        async with Bounded(3) as bounded:
            for index in range(10):
                await bounded.submit(job, index)

    task = asyncio.create_task(producer())
    for _ in range(1000):  # let the loop run until the producer blocks on the fourth job
        await asyncio.sleep(0)
        if running == 3 and not task.done():
            break
    for _ in range(100):  # and stays blocked: no fourth job starts while three hold their slots
        await asyncio.sleep(0)
    assert (running, done, task.done()) == (3, [], False)
    release.set()
    await task
    assert (most, sorted(done)) == (3, list(range(10)))


async def test_a_failing_job_fails_the_block() -> None:
    async def broken() -> None:
        raise ValueError("broken job")

    with pytest.raises(ValueError, match="broken job"):
        async with Bounded(2) as bounded:
            await bounded.submit(broken)
