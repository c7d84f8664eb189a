"""Decide, file by file, what the import does: trust a legacy hash, queue the file, or leave it as it is."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncpg import Record

from backend.database.metadata_sources import rank as source_rank
from backend.database.migration.legacy.rules import Verdict, decide
from backend.server.legacy.gather import LegacyFile
from backend.server.legacy.report import ImportReport
from backend.util.file_identity import FileIdentity, HashedFile

# What a step does: record a trusted hash (new file, pending file, changed active file), queue the file
# to be hashed, or nothing because the catalogue already holds what the import would give it.
CREATE, PROMOTE, REFRESH, REGISTER, KNOWN = "create", "promote", "refresh", "register", "known"
TRUSTING = (CREATE, PROMOTE, REFRESH)


@dataclass(frozen=True)
class Step:
    file: LegacyFile
    action: str
    verdict: Verdict
    pending_key: str | None = None

    def hashed(self) -> HashedFile:
        assert self.verdict.sha256 is not None
        return HashedFile(self.file.path, self.verdict.sha256, self.file.identity)


def plan(files: Iterable[LegacyFile], models: dict[str, Record], pending: dict[str, Record],
         report: ImportReport) -> list[Step]:
    steps = []
    for file in files:
        verdict = decide(file.identity.size, file.identity.mtime_ns, file.claims)
        for source, reason in verdict.stale:
            report.skip(file.path, source, f"not trusted, the file will be hashed: {reason}")
        if verdict.conflict:
            report.conflict(file.path, verdict.conflict)
        step = _step(file, verdict, models.get(file.path), pending.get(file.path), report)
        if step is not None:
            steps.append(step)
    return steps


def _step(file: LegacyFile, verdict: Verdict, active: Record | None, pending: Record | None,
          report: ImportReport) -> Step | None:
    sources = ",".join(verdict.sources)
    if active is not None:
        if FileIdentity.from_row(active) != file.identity:
            if verdict.sha256 is not None:
                return Step(file, REFRESH, verdict)
            report.skip(file.path, sources, "changed since it was catalogued: hash it to refresh its record")
            return None
        if verdict.sha256 is not None and verdict.sha256 != active["sha256"]:
            report.skip(file.path, sources, "disagrees with the hash ModelVault read from the file, which stays")
        return Step(file, KNOWN, verdict)
    if pending is not None:
        return Step(file, PROMOTE, verdict, pending["image_key"]) if verdict.sha256 else Step(file, KNOWN, verdict)
    return Step(file, CREATE if verdict.sha256 else REGISTER, verdict)


def count(steps: Sequence[Step], report: ImportReport) -> None:
    """What the steps do (or would do, in a dry run)."""
    report.trusted += sum(step.action in TRUSTING for step in steps)
    report.pending += sum(step.action == REGISTER for step in steps)
    report.already_known += sum(step.action == KNOWN for step in steps)


def known_hashes(steps: Iterable[Step], models: dict[str, Record]) -> dict[str, str]:
    """Each file's hash as far as the catalogue knows it: its unchanged active record's, or the one the import
    trusts for it."""
    known = {}
    for step in steps:
        active = models.get(step.file.path)
        if active is not None and FileIdentity.from_row(active) == step.file.identity:
            known[step.file.path] = active["sha256"]
    known.update((step.file.path, step.verdict.sha256) for step in steps if step.verdict.sha256 is not None)
    return known


def metadata_rows(files: Iterable[LegacyFile], hashes: dict[str, str], report: ImportReport
                  ) -> list[tuple[str, str, Any, str]]:
    """(sha256, field, value, source), one per field of a content: the most authoritative source's.

    Kept even for a claim that is not trusted for its file: it still describes the content of that hash.
    A claim that names no hash (a person's notes) describes the file's content, by the hash `hashes` gives
    it (see known_hashes); a file not hashed yet has none, its notes wait in their side-car, and the report
    says so.
    """
    best: dict[tuple[str, str], tuple[int, Any, str]] = {}
    for file in files:
        for claim in file.claims:
            sha256 = claim.sha256 or hashes.get(file.path)
            if sha256 is None:
                report.skip(file.path, claim.source, "kept for when the file is hashed: import again then")
                continue
            rank = source_rank(claim.source)
            for field, value in claim.metadata.items():
                known = best.get((sha256, field))
                if known is None or rank < known[0]:
                    best[(sha256, field)] = (rank, value, claim.source)
    return [(sha256, field, value, source) for (sha256, field), (_, value, source) in best.items()]
