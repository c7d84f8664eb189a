"""What a scan reports: counts, and the first paths of each list."""

from __future__ import annotations

from dataclasses import dataclass, field

# Lists in reports stop here: a library of 70,000 files must not give a 70,000-line answer.
REPORT_LIMIT = 100


@dataclass
class ScanReport:
    found: int = 0
    registered: int = 0
    already_pending: int = 0
    unchanged: int = 0
    recognised: int = 0
    # Files whose record no longer matches them (replaced, rewritten): back in the queue, hashed again.
    changed: list[str] = field(default_factory=list)
    changed_count: int = 0
    # Pending files whose size or mtime moved since the last scan: still being written, so they wait longer.
    growing: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    # Records under the scanned folders whose file is gone; `missing_paths` lists the first of them.
    missing: int = 0
    missing_paths: list[str] = field(default_factory=list)
    # Records removed because their file is gone (only when asked to prune).
    pruned: int = 0
    # Pending records whose file is gone (moved or deleted before it was hashed): removed by every scan.
    pending_removed: int = 0
    # New files catalogued from another tool's side-car hash, without being read (see legacy migration).
    imported: int = 0
    # Active models whose preview followed a side-car picture added, replaced or removed beside them.
    previews_changed: int = 0

    def add_error(self, path: str, code: str, message: str) -> None:
        if len(self.errors) < REPORT_LIMIT:
            self.errors.append({"path": path, "code": code, "message": message})

    def add_changed(self, path: str) -> None:
        self.changed_count += 1
        if len(self.changed) < REPORT_LIMIT:
            self.changed.append(path)

    def add_missing(self, path: str) -> None:
        self.missing += 1
        if len(self.missing_paths) < REPORT_LIMIT:
            self.missing_paths.append(path)
