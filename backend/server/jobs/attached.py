"""The synchronous endpoints' way to run a job: start it, relay its progress as NDJSON, answer with its result."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.server.jobs.runner import JobRunner
from backend.util.progress import Progress


async def run_attached(runner: JobRunner, name: str, params: dict[str, Any], on_progress: Progress | None
                       ) -> dict[str, Any]:
    """The job's result, or the error it failed with, as if the work ran in this request.

    Not exclusive: several such calls (from several gateways) may share one queue, as they always could.
    """
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    starting = asyncio.ensure_future(
        runner.start(name, params, exclusive=False, listener=None if on_progress is None else events.put_nowait)
    )
    try:
        row = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # The client left while its job was being written: once it exists, stop it, for nobody waits.
        row = await starting
        await runner.cancel(row["id"])
        raise
    task = runner.task(row["id"])
    assert task is not None  # started just now, without an await in between
    try:
        while not task.done():
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
            elif on_progress is not None:
                await _relay(on_progress, getter.result())
    except BaseException:
        # Cancelled, or the client is gone: nobody waits for the answer any more, so stop the work.
        await asyncio.shield(runner.cancel(row["id"]))
        raise
    while on_progress is not None and not events.empty():
        await _relay(on_progress, events.get_nowait())
    outcome = task.result()
    if outcome.error is not None:
        raise outcome.error
    return outcome.result or {}


async def _relay(on_progress: Progress, fields: dict[str, Any]) -> None:
    await on_progress(files_done=fields.get("files_done", 0), files_total=fields.get("files_total", 0),
                      current=fields.get("current"))
