"""The processes of a running stack as psutil sees them, and the figures benchmarks take of them."""

from __future__ import annotations

import statistics

import psutil

from backend.database.embedded import EmbeddedPostgres


def child(stack: object, module: str) -> psutil.Process:
    """The stack's child process running module."""
    children = psutil.Process(stack.pid).children(recursive=True)
    return next(process for process in children if module in process.cmdline())


def postmaster(database: EmbeddedPostgres) -> psutil.Process:
    return psutil.Process(int((database.pgdata / "postmaster.pid").read_text().split()[0]))


def _family(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_s(parts: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds each part has used so far (PostgreSQL with its backends): figures that the load of
    other work on the machine does not inflate, unlike wall-clock time."""
    def used(process: psutil.Process, with_children: bool) -> float:
        total = 0.0
        for member in _family(process) if with_children else [process]:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total
    return {name: used(process, name == "postgres") for name, process in parts.items()}


def rss_mb(parts: dict[str, psutil.Process]) -> dict[str, float]:
    """Resident memory of each part with all its children (pool workers, PostgreSQL backends), in MB."""
    def resident(process: psutil.Process) -> int:
        total = 0
        for member in _family(process):
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total
    return {name: resident(process) / 2**20 for name, process in parts.items()}


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]
