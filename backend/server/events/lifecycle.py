"""The change bus's life: it listens before the jobs start, and hears the catalogue's previews and every job."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from backend.server import keys
from backend.server.events.bus import ChangeBus


async def change_bus(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context, after the use cases and before the job engine, which hooks its runner to it."""
    bus = app[keys.CHANGE_BUS] = ChangeBus(app[keys.DATABASE_DSN], app[keys.CONFIG].gateway.max_event_streams)
    app[keys.CATALOGUE].previews.listeners.append(
        lambda sha256, key: bus.publish({"type": "preview", "sha256": sha256, "image_key": key}))
    app[keys.CATALOGUE].listeners.append(bus.publish)
    await bus.start()
    yield
    await bus.close()


def hook_jobs(app: web.Application) -> None:
    """Every job this gateway starts and ends is told to every open page; their streams share one cap."""
    bus = app[keys.CHANGE_BUS]
    app[keys.JOB_RUNNER].listeners.append(bus.publish)
    app[keys.JOBS].share_stream_cap(lambda: bus.open_streams)
