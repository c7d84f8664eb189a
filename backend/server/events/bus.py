"""One stream of catalogue changes for every open page, whichever gateway made the change.

PostgreSQL's LISTEN/NOTIFY carries them: several gateways may share one catalogue (compose, scaled out), and a
job the command line starts on one of them must show on a page that another one serves. An in-process bus would
only see its own gateway's changes. Each gateway sends what it changed at most every FLUSH_S, as one notification
(a burst of 10,000 changes is one "reload" with counts, never 10,000 repaints), and listens on one connection of
its own. Each open stream has a bounded queue: a client too slow to take its batches is dropped, never buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "modelvault_changes"
# Changes are gathered this long before they are sent: a burst becomes one batch.
FLUSH_S = 0.25
# A batch with more changes than this is sent as counts with a "reload" hint: a page then reloads its view once.
MAX_BATCH_EVENTS = 50
# NOTIFY refuses payloads of 8,000 bytes and more.
MAX_PAYLOAD_BYTES = 7_000
# Batches one stream may have waiting; a client that lets more pile up is dropped (its page reconnects).
STREAM_QUEUE = 32
RECONNECT_S = 1.0


class TooManyEventStreams(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} event streams are open already")


class Subscription:
    """One open stream: its batches in order, or None once it was dropped for falling behind."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(STREAM_QUEUE + 1)
        self.dropped = False

    def offer(self, batch: str) -> None:
        if self.dropped:
            return
        if self.queue.qsize() >= STREAM_QUEUE:
            self.dropped = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(batch)


def batch_payload(events: list[dict[str, Any]]) -> str:
    """The batch as sent: every event, or, past the limits, their counts by type and a reload hint."""
    if len(events) <= MAX_BATCH_EVENTS:
        payload = json.dumps({"events": events, "reload": False})
        if len(payload.encode()) <= MAX_PAYLOAD_BYTES:
            return payload
    counts = Counter(event["type"] for event in events)
    return json.dumps({"events": [], "reload": True, "counts": dict(sorted(counts.items()))})


class ChangeBus:
    """This gateway's sender and listener of catalogue changes, and its open streams."""

    def __init__(self, dsn: str, max_streams: int) -> None:
        self._dsn = dsn
        self._max_streams = max_streams
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._subscriptions: set[Subscription] = set()
        self._tasks: list[asyncio.Task] = []
        self.open_streams = 0

    def publish(self, event: dict[str, Any]) -> None:
        """Send this change with the next batch (within FLUSH_S), to every gateway's streams."""
        self._pending.append(event)
        self._wake.set()

    def check_room(self, also_open: int = 0) -> None:
        """TooManyEventStreams when the cap (MODELVAULT_MAX_EVENT_STREAMS, shared with the job feeds) is reached."""
        if self.open_streams + also_open >= self._max_streams:
            raise TooManyEventStreams(self._max_streams)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """An open stream while the block runs."""
        subscription = Subscription()
        self._subscriptions.add(subscription)
        self.open_streams += 1
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            self.open_streams -= 1

    def _deliver(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(payload)

    async def start(self) -> None:
        listening = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen_forever(listening), name="change-bus-listen"),
                       asyncio.create_task(self._send_forever(), name="change-bus-send")]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await listening.wait()  # changes made from now on reach this gateway's streams

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for subscription in list(self._subscriptions):
            subscription.dropped = True
            subscription.queue.put_nowait(None)

    async def _send_forever(self) -> None:
        conn: asyncpg.Connection | None = None
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_S)
            self._wake.clear()
            events, self._pending = self._pending, []
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self._dsn)
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, batch_payload(events))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("could not send %d catalogue changes to the open pages: %s", len(events), exc)
                conn = None

    async def _listen_forever(self, listening: asyncio.Event) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, closed=closed: closed.set())
                await conn.add_listener(CHANNEL, self._deliver)
                listening.set()
                try:
                    await closed.wait()
                finally:
                    conn.terminate()
                log.warning("the connection that hears catalogue changes was lost; opening it again")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot listen for catalogue changes (%s); trying again", exc)
            # Changes missed meanwhile: every open page reloads its view once.
            self._deliver(None, 0, CHANNEL, json.dumps({"events": [], "reload": True, "counts": {}}))
            await asyncio.sleep(RECONNECT_S)


async def batches(subscription: Subscription, quiet_s: float) -> AsyncIterator[str | None]:
    """The stream's batches; None after quiet_s without one (a moment to check the client), and the end when
    the stream was dropped."""
    while True:
        try:
            async with asyncio.timeout(quiet_s):
                batch = await subscription.queue.get()
        except TimeoutError:
            yield None
            continue
        if batch is None:
            return
        yield batch
