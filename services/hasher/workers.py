"""The hash worker processes, each fed through a socket of its own that the event loop itself reads: no thread
stands between a file's end in a worker and the next file handed to it.

concurrent.futures' process pool crosses three threads per file (the caller's submit, a queue feeder, the
executor's manager thread) and wakes the event loop from a thread twice more; for LoRA-sized files that cost
the hasher's main process about as much CPU as the rest of the call (README, Benchmark notes). Here the loop
writes a task to a worker's socket, and reads each file's answer the moment the worker writes it.

A worker that dies loses only its own files (a dead worker of the stdlib pool breaks it, and every file in it
with it); a new one takes its place with the next file.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import pickle
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from backend.util.file_identity import FileIdentity
from services.hasher.errors import ReadError
from services.hasher.hashing import init_worker, timed_hash_file
from services.hasher.short_hashes import Digests
from services.process_pool import PoolClosedError, WorkerDiedError

log = logging.getLogger(__name__)

# A worker is given its next file while it reads one that has at most this much left (a few hundredths of a second of
# hashing), so that it starts it without waiting for this process; a file queued behind a 7 GB one would wait
# for it while another worker sat idle.
NEXT_FILE_WITHIN_BYTES = 64 << 20
# Seconds close() gives the workers to stop at their next block before they are killed.
_STOP_TIMEOUT_S = 10.0

Outcome = tuple[Digests, float]


@dataclass(eq=False)
class WorkerTask:
    """One file for a worker: `result` ends with (digests, seconds) or the worker's exception.

    `released` is called once, when no worker will touch the task's slot again (answered, never sent, lost).
    """

    path: str
    slot: int
    identity: FileIdentity
    mapped: bool
    released: Callable[[], None]
    result: asyncio.Future[Outcome]
    id: int = 0
    sent: bool = False


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: dict[int, WorkerTask] = field(default_factory=dict)  # sent, not yet answered, in order
    attached: bool = False


class HashWorkers:
    """`count` worker processes (spawned, never forked: gRPC's threads do not survive fork), at most
    `depth` files handed to each at once."""

    def __init__(self, count: int, depth: int, cancel: MutableSequence[int], progress: MutableSequence[int],
                 autov3_max_bytes: int = -1) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._count = count
        self._depth = depth
        self._initargs = (cancel, progress, autov3_max_bytes)
        self._progress = progress
        self._workers: list[_Worker] = []
        self._unsent: collections.deque[WorkerTask] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_id = 0
        self._closed = False

    def start(self) -> None:
        """Start every worker now, so that the first file does not wait for a Python process to start."""
        while len(self._workers) < self._count and not self._closed:
            self._workers.append(self._spawn())

    def worker_pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers if worker.process.pid is not None]

    def submit(self, path: str, slot: int, identity: FileIdentity, *, mapped: bool,
               released: Callable[[], None]) -> WorkerTask:
        """Hand the file to a worker now, or as soon as one may take it; await the task's result."""
        if self._closed:
            raise PoolClosedError("the hasher is shutting down")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        self.start()
        self._attach()
        self._next_id += 1
        task = WorkerTask(path, slot, identity, mapped, released, loop.create_future(), self._next_id)
        self._unsent.append(task)
        self._dispatch()
        return task

    def withdraw(self, task: WorkerTask) -> None:
        """The task's caller gave up: a task not yet sent is dropped at once (a sent one stops at its flag)."""
        if not task.sent and task in self._unsent:
            self._unsent.remove(task)
            task.released()

    def close(self) -> None:
        """Ask every worker to stop, wait for them, and end every task still waiting (PoolClosedError)."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(_STOP_TIMEOUT_S)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
        for worker in self._workers:
            self._drain(worker)  # answers already written (cancelled, most of them)
            self._detach(worker)
            self._fail(worker.tasks.values(), PoolClosedError("the hasher is shutting down"))
            worker.conn.close()
            worker.process.close()
        self._fail(self._unsent, PoolClosedError("the hasher is shutting down"))
        self._unsent.clear()
        self._workers.clear()

    # The parent's side: spawning, handing over, answers, deaths.

    def _spawn(self) -> _Worker:
        mine, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve, args=(theirs, *self._initargs), daemon=True,
                                        name="modelvault-hash-worker")
        process.start()
        theirs.close()  # the worker's end is the worker's alone: its death is the end of our stream
        worker = _Worker(process, mine)
        if self._loop is not None:
            self._attach_one(worker)
        return worker

    def _attach(self) -> None:
        for worker in self._workers:
            if not worker.attached:
                self._attach_one(worker)

    def _attach_one(self, worker: _Worker) -> None:
        assert self._loop is not None
        self._loop.add_reader(worker.conn.fileno(), self._readable, worker)
        worker.attached = True

    def _detach(self, worker: _Worker) -> None:
        if worker.attached and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(worker.conn.fileno())
        worker.attached = False

    def _dispatch(self) -> None:
        """Send waiting tasks, oldest first, each to the worker that will be free soonest."""
        while self._unsent:
            worker = self._free_soonest()
            if worker is None:
                return
            task = self._unsent.popleft()
            if task.result.done():  # its caller left before it was sent
                task.released()
                continue
            try:
                identity = task.identity  # plain fields: a dataclass costs the pickler several times more
                worker.conn.send((task.id, task.path, task.slot, identity.device, identity.inode, identity.size,
                                  identity.mtime_ns, task.mapped))
            except OSError:
                self._unsent.appendleft(task)  # never reached it: the worker died, the task goes elsewhere
                self._died(worker)
                continue
            task.sent = True
            worker.tasks[task.id] = task

    def _free_soonest(self) -> _Worker | None:
        best, best_left = None, NEXT_FILE_WITHIN_BYTES
        for worker in self._workers:
            if not worker.tasks:
                return worker
            if len(worker.tasks) >= self._depth:
                continue
            left = sum(task.identity.size - self._progress[task.slot] for task in worker.tasks.values())
            if left <= best_left:
                best, best_left = worker, left
        return best

    def _readable(self, worker: _Worker) -> None:
        # One answer per call: the loop calls again while the socket holds more (poll() would cost a selector).
        try:
            task_id, error, outcome = worker.conn.recv()
        except (EOFError, OSError):
            self._died(worker)
        else:
            self._answered(worker, task_id, error, outcome)
        self._dispatch()

    def _answered(self, worker: _Worker, task_id: int, error: Exception | None, outcome: Outcome | None) -> None:
        task = worker.tasks.pop(task_id)
        task.released()
        if task.result.done():
            return
        if error is not None:
            task.result.set_exception(error)
        else:
            task.result.set_result(outcome)

    def _drain(self, worker: _Worker) -> None:
        """Deliver the answers a stopped worker wrote before it exited."""
        try:
            while worker.conn.poll():
                self._answered(worker, *worker.conn.recv())
        except (EOFError, OSError):
            pass

    def _died(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        self._detach(worker)
        self._workers.remove(worker)
        worker.conn.close()
        log.warning("a hash worker died (exit code %s)", worker.process.exitcode)
        _reap_later(self._loop, worker.process)
        # Its successor starts with the next file (here, or the retry of one it held), not before: a worker
        # that cannot start is then not started again and again while nothing waits for it.
        if self._unsent and not self._closed:
            self._workers.append(self._spawn())
        self._fail(worker.tasks.values(), WorkerDiedError("a hash worker died while working; it was replaced"))
        worker.tasks.clear()

    @staticmethod
    def _fail(tasks, error: Exception) -> None:
        for task in list(tasks):
            task.released()
            if not task.result.done():
                task.result.set_exception(error)


def _reap_later(loop: asyncio.AbstractEventLoop | None, process: BaseProcess) -> None:
    """Collect a dead worker's exit status once it is gone (its socket may close a moment before it exits)."""
    def reap() -> None:
        if loop is not None:
            loop.remove_reader(sentinel)
        process.join()
        process.close()
    sentinel = process.sentinel
    if loop is None or loop.is_closed():
        process.join()
        return
    loop.add_reader(sentinel, reap)


def _serve(conn: Connection, cancel, progress, autov3_max_bytes: int) -> None:
    """A worker's life: take a file, hash it, answer, until told to stop or this socket's other end closes."""
    init_worker(cancel, progress, autov3_max_bytes)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task_id, path, slot, device, inode, size, mtime_ns, mapped = message
        try:
            identity = FileIdentity(device, inode, size, mtime_ns)
            answer = (task_id, None, timed_hash_file(path, slot, identity, mapped=mapped))
        except Exception as exc:  # noqa: BLE001 - the file's own failure, answered for that file
            answer = (task_id, exc, None)
        try:
            conn.send(answer)
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send((task_id, ReadError(f"cannot hash {path!r}: {answer[1]!r}"), None))
