"""The one progress callback every layer takes and calls: `await progress(files_done=3, current=path)`."""

from __future__ import annotations

from typing import Protocol, TypedDict, Unpack


class ProgressFields(TypedDict, total=False):
    """What a report of progress may say; a report gives only what changed. These are a job row's columns."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    errors: int
    current: str | None  # the path being worked on


class Progress(Protocol):
    """Awaited, so that an answer that streams its progress to a client waits for that client; a job's
    progress only records the fields and returns at once."""

    async def __call__(self, **fields: Unpack[ProgressFields]) -> None: ...
