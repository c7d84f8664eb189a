"""The header job's use case: what each catalogued content's file says about itself, stored per SHA-256.

The hasher reads the headers (it owns the disks; the gateway never opens a model file), a batch of files per
call; each answer becomes rows of model_metadata with the header's format as their source. Which source wins
a field is metadata_sources.SOURCE_PRIORITY: a header yields to a person's notes and to the hub, and wins over
the other tools' caches. A file that cannot be read, or changed since it was hashed, is that file's error or is left
for its next hash; a malformed header is stored as that content's `header_error`, never a failed job. A content
without a preview gets the thumbnail its header embeds (headers/thumbnails.py).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc

from backend.database import header_queries, legacy_queries
from backend.database.conflicts import retried
from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.headers.thumbnails import adopt_thumbnails
from backend.util.file_identity import FileIdentity
from backend.util.progress import Progress
from modelvault.hasher.v1 import hasher_pb2

# Files per ReadHeaders call: a header is a small read, so one call holds many (the hasher takes 1,000).
BATCH = 250
REPORT_LIMIT = 100

# The hasher's answer for a file that changed while its header was read: it waits for its next hash, as one
# changed since its hash does.
_ABORTED = grpc.StatusCode.ABORTED.value[0]


@dataclass
class HeadersReport:
    # Contents whose header was read and stored (header_errors of them had a header that could not be read).
    read: int = 0
    header_errors: int = 0
    # Files changed since they were hashed: their header waits for their next hash.
    changed: int = 0
    # Files that could not be checked or opened.
    error_count: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    # Contents without a preview that got the thumbnail their header embeds; and the thumbnails that
    # could not be one (not an image, too large), by file.
    previews: int = 0
    thumbnail_errors: list[dict[str, str]] = field(default_factory=list)


def model_header_rows(sha256: str, header: hasher_pb2.ModelHeader) -> list[tuple[str, str, Any, str]]:
    """(sha256, field, value, source) rows of one header: its format (the mark that it was read), type,
    architecture, trigger words, note, and every fact by its own name."""
    source = header.format
    rows: dict[str, Any] = {header_queries.READ_MARK: header.format, "model_type": header.model_type,
                            "architecture": header.architecture}
    if header.trigger_words:
        rows["trigger_words"] = list(header.trigger_words)
    if header.header_error:
        rows["header_error"] = header.header_error
    facts = json.loads(header.facts_json) if header.facts_json else {}
    rows.update({name: value for name, value in facts.items() if name not in rows})
    return [(sha256, name, value, source) for name, value in rows.items()]


async def read_headers(pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient, folder: str,
                       refresh: bool, on_progress: Progress) -> HeadersReport:
    report = HeadersReport()
    async with pool.acquire() as conn:
        total = await header_queries.count_to_read(conn, folder, refresh)
    await on_progress(files_total=total, files_done=0, errors=0)
    done, after = 0, ""
    # One batch is stored while the hasher reads the next: the two wait on different processes.
    storing: asyncio.Task[None] | None = None
    try:
        while True:
            async with pool.acquire() as conn:
                batch = await header_queries.contents_to_read(conn, folder, after, BATCH, refresh)
            if not batch:
                break
            after = batch[-1]["sha256"]
            headers = await hasher.read_headers([row["path"] for row in batch])
            rows, thumbnails = [], []
            for record, header in zip(batch, headers, strict=True):
                said = _rows_of(record, header, report)
                rows.extend(said)
                if said and header.has_thumbnail:
                    thumbnails.append((record["sha256"], record["path"]))
            if storing is not None:
                await storing
                await on_progress(files_done=done, errors=report.error_count)
            storing = asyncio.create_task(_store_batch(pool, hasher, images, rows, thumbnails, refresh, report))
            done += len(batch)
            await on_progress(current=batch[-1]["path"])
        if storing is not None:
            await storing
        await on_progress(files_done=done, errors=report.error_count)
        return report
    finally:
        if storing is not None and not storing.done():
            storing.cancel()
            await asyncio.gather(storing, return_exceptions=True)


def _rows_of(record: asyncpg.Record, header: hasher_pb2.ModelHeader, report: HeadersReport
             ) -> list[tuple[str, str, Any, str]]:
    if header.HasField("file_error") and header.file_error.code == _ABORTED:
        report.changed += 1
        return []
    if header.HasField("file_error"):
        report.error_count += 1
        if len(report.errors) < REPORT_LIMIT:
            report.errors.append({"path": record["path"], "message": header.file_error.message})
        return []
    if FileIdentity.from_fields(header.identity) != FileIdentity.from_row(record):
        report.changed += 1
        return []
    if not header.format:
        return []  # a dev-mode shadow file: no header to read
    report.read += 1
    report.header_errors += bool(header.header_error)
    return model_header_rows(record["sha256"], header)


async def _store_batch(pool: asyncpg.Pool, hasher: HasherClient, images: ImagesClient,
                       rows: list[tuple[str, str, Any, str]], thumbnails: list[tuple[str, str]], refresh: bool,
                       report: HeadersReport) -> None:
    await _store(pool, rows, refresh)
    report.previews += await adopt_thumbnails(pool, hasher, images, thumbnails, report.thumbnail_errors)


async def _store(pool: asyncpg.Pool, rows: list[tuple[str, str, Any, str]], refresh: bool) -> None:
    if not rows:
        return
    async def attempt() -> None:
        async with pool.acquire() as conn, conn.transaction():
            hashes = sorted({row[0] for row in rows})
            existing = await legacy_queries.existing_metadata(conn, hashes)
            await legacy_queries.write_metadata(conn, legacy_queries.metadata_changes(rows, existing))
            if refresh:  # a content read for the first time has no header facts to drop
                await header_queries.drop_unsaid(conn, [(row[0], row[1]) for row in rows])

    await retried(attempt, f"storing the headers of {len(rows)} fields")
