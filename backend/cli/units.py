"""Sizes, speeds, durations and hashes in the words a person reads (the page's format.js says the same)."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
# The "AutoV2" form other model tools show and write into an image's parameters: the first ten hex digits.
SHORT_HASH = 10


def size(value: float) -> str:
    amount = float(value)
    for unit in _UNITS:
        if abs(amount) < 1024 or unit == _UNITS[-1]:
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def short_hash(sha256: str) -> str:
    return sha256[:SHORT_HASH]
