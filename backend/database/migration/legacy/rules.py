"""When a legacy hash is trusted without reading the file: only while the disk confirms what the source saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from backend.database.migration.legacy.claims import Claim

# A1111 stores mtime as a float of seconds; the file system's nanoseconds may round differently by this much.
_MTIME_SLACK_NS = 1000


@dataclass(frozen=True)
class Verdict:
    # The hash to record without reading the file; None when it must be hashed.
    sha256: str | None
    sources: tuple[str, ...]
    # (source, why its hash is not trusted): the file changed since the source saw it.
    stale: list[tuple[str, str]] = field(default_factory=list)
    # Every (source, sha256) when the sources disagree about this file.
    conflict: list[tuple[str, str]] = field(default_factory=list)


def decide(size: int, mtime_ns: int, claims: Sequence[Claim]) -> Verdict:
    """Trust the one hash all claims agree on, if every claim's record still matches the file.

    Claims that name no hash (notes about the file) take no part.
    """
    claims = [claim for claim in claims if claim.sha256 is not None]
    sources = tuple(claim.source for claim in claims)
    if len({claim.sha256 for claim in claims}) > 1:
        return Verdict(None, sources, conflict=[(claim.source, claim.sha256) for claim in claims])
    stale = [(claim.source, reason) for claim in claims if (reason := why_stale(claim, size, mtime_ns))]
    if stale or not claims:
        return Verdict(None, sources, stale=stale)
    return Verdict(claims[0].sha256, sources)


def why_stale(claim: Claim, size: int, mtime_ns: int) -> str | None:
    """Why the file on disk is no longer the one the source hashed, or None when it may still be."""
    if claim.unverifiable is not None:
        return claim.unverifiable
    if claim.size is not None and abs(claim.size - size) > claim.size_tolerance:
        return f"the source recorded {claim.size} bytes, the file has {size}"
    if claim.mtime_s is not None and mtime_ns > round(claim.mtime_s * 1e9) + _MTIME_SLACK_NS:
        return "the file was modified after the source hashed it"
    return None
