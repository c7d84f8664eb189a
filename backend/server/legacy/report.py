"""The import's answer, and the services it works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.catalogue.service import Catalogue

# Lists in reports stop here, as in the scan's report.
REPORT_LIMIT = 100


@dataclass(frozen=True)
class LegacyServices:
    pool: asyncpg.Pool
    hasher: HasherClient
    images: ImagesClient
    catalogue: Catalogue


@dataclass
class ImportReport:
    trusted: int = 0
    pending: int = 0
    already_known: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    metadata: int = 0

    def skip(self, path: str, source: str, reason: str) -> None:
        if len(self.skipped) < REPORT_LIMIT:
            self.skipped.append({"path": path, "source": source, "reason": reason})

    def conflict(self, path: str, claims: list[tuple[str, str]]) -> None:
        if len(self.conflicts) < REPORT_LIMIT:
            self.conflicts.append({"path": path,
                                   "claims": [{"source": source, "sha256": sha256} for source, sha256 in claims]})


@dataclass
class VerifyReport:
    verified: int = 0
    wrong: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
