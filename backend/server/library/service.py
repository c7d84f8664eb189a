"""The library's read side: pages of models, duplicate files, one content's files, pending files, and metadata."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg import Record

from backend.database import db, hub_queries, legacy_queries, library_queries, preview_queries
from backend.database.library_queries import UNKNOWN, Count, ModelQuery
from backend.database.search_probes import TrigramShares
from backend.server.library import hash_lookup
from backend.server.library.hash_text import WantedHash

__all__ = ["SORTS", "UNKNOWN", "Count", "DuplicatePage", "Library", "ModelPage", "ModelQuery"]

SORTS = tuple(library_queries.SORT_KEYS)
# The search's sample of the catalogue (search_probes): rows in it, and how long it is used before it is taken
# again. An old sample only makes a search slower, never its answer different.
TRIGRAM_SAMPLE_ROWS = 2000
TRIGRAM_SAMPLE_TTL_S = 300.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPage:
    rows: list[Record]
    # How many models the filters let through: every one, or for a text search with many, at least this many.
    # A cursor carries it to the pages after the first.
    matches: Count
    more: bool


@dataclass(frozen=True)
class DuplicatePage:
    groups: list[Record]
    # Every file of the page's groups, in no particular group order.
    files: list[Record]
    total_groups: int
    wasted_bytes: int


class Library:
    """What the catalogue holds, read for the pages that show it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._shares: TrigramShares | None = None
        self._sampled_at = -TRIGRAM_SAMPLE_TTL_S
        self._sampling: asyncio.Task[TrigramShares | None] | None = None

    async def models(self, query: ModelQuery, matches: Count | None = None) -> ModelPage:
        """A page of active models; the matches are counted only when not given (a page reached by cursor
        carries what the first page counted)."""
        shares = self._trigram_shares() if query.search else None
        # One more row than asked tells whether a next page exists.
        # Each row carries its metadata as JSON text ({field: value}) for the answer to take as it is.
        one_more = dataclasses.replace(query, limit=query.limit + 1)
        if matches is None and library_queries.surely_common(query, shares):
            matches, rows = await self._counted_beside(query, one_more, shares)
        else:
            async with self._pool.acquire() as conn:
                if matches is None:
                    matches = await library_queries.count_models(conn, query, shares)
                rows = await library_queries.list_models(conn, one_more, matches, shares)
        shown = rows[: query.limit]
        if not matches.exact:
            # A bounded count may have read fewer matches than the page found: the page's rows are matches too.
            matches = Count(max(matches.total, query.offset + len(shown)), False)
        return ModelPage(shown, matches, len(rows) > query.limit)

    async def _counted_beside(self, query: ModelQuery, one_more: ModelQuery, shares: TrigramShares
                              ) -> tuple[Count, list[Record]]:
        """A common search's count and page at once, on two connections: its page is found along the order's
        index, which needs no count. Should the sample be wrong (the word has become rare since), that walk read
        more rows than sorting the index's few would have, and found the same page."""
        async def count() -> Count:
            async with self._pool.acquire() as conn:
                return await library_queries.count_models(conn, query, shares)

        async def page() -> list[Record]:
            async with self._pool.acquire() as conn:
                return await library_queries.list_models(conn, one_more, library_queries.WALKED, shares)

        matches, rows = await asyncio.gather(count(), page())
        return matches, rows

    def _trigram_shares(self) -> TrigramShares | None:
        """The sample searches use now; an outdated one is taken again beside the searches, never before them."""
        stale = time.monotonic() - self._sampled_at > TRIGRAM_SAMPLE_TTL_S
        if stale and (self._sampling is None or self._sampling.done()):
            self._sampling = asyncio.get_running_loop().create_task(self.sample())
        return self._shares

    async def sample(self) -> TrigramShares | None:
        """Take the searches' sample of the catalogue now (searches take it beside them when it is old)."""
        try:
            async with self._pool.acquire() as conn:
                self._shares = await library_queries.sample_trigrams(conn, TRIGRAM_SAMPLE_ROWS)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Searches go on with the sample they had (or ask the index for whole words); it is tried again when
            # it would have been taken again, not at every search.
            log.warning("could not sample the catalogue for searches: %s", exc)
        self._sampled_at = time.monotonic()
        return self._shares

    async def close(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            await asyncio.gather(self._sampling, return_exceptions=True)

    async def facets(self) -> dict[str, list[Record]]:
        """Models per folder (directly in it), per model type and per base model."""
        async with self._pool.acquire() as conn:
            return await library_queries.facets(conn)

    async def duplicates(self, limit: int, offset: int) -> DuplicatePage:
        async with self._pool.acquire() as conn:
            groups, total_groups, wasted = await library_queries.duplicate_groups(conn, limit, offset)
            files = await library_queries.files_with_hashes(conn, [g["sha256"] for g in groups])
        return DuplicatePage(groups, files, total_groups, wasted)

    async def content(self, sha256: str) -> tuple[list[Record], dict[str, dict[str, Any]]]:
        """The files with this SHA-256, and its metadata as {field: {"value", "source"}}."""
        async with self._pool.acquire() as conn:
            rows = await db.models_with_hash(conn, sha256)
            metadata = await sourced_metadata(conn, sha256)
        return rows, metadata

    async def hub_lookup(self, sha256: str) -> dict[str, Any]:
        """What the hub said of this content: {"state", "checked_at", "url"}; "unchecked" when never asked."""
        async with self._pool.acquire() as conn:
            row = await hub_queries.lookup_of(conn, sha256)
        if row is None:
            return {"state": "unchecked", "checked_at": None, "url": None}
        return {"state": row["state"], "checked_at": row["checked_at"].isoformat(), "url": row["url"]}

    async def own_preview(self, sha256: str) -> bool:
        """Whether the preview is one a person set (PUT /api/models/{sha256}/preview), which they may remove."""
        async with self._pool.acquire() as conn:
            return await preview_queries.set_by_person(conn, sha256)

    async def hashes(self, sha256: str) -> dict[str, Any]:
        """The hashes people look this content up by (hash_lookup.hashes_json)."""
        return await hash_lookup.content_hashes(self._pool, sha256)

    async def find_by_hashes(self, wanted: list[WantedHash]) -> list[dict[str, Any]]:
        """For each hash, every content it matches, with its files (short hashes collide)."""
        return await hash_lookup.look_up(self._pool, wanted)

    async def pending(self, limit: int, offset: int) -> tuple[list[Record], int]:
        """A page of pending files, and how many there are."""
        async with self._pool.acquire() as conn:
            return await db.list_pending(conn, limit, offset)


async def sourced_metadata(conn: asyncpg.Connection, sha256: str) -> dict[str, dict[str, Any]]:
    """{field: {"value", "source"}} for one content."""
    found = (await legacy_queries.metadata_for(conn, [sha256])).get(sha256, {})
    return {field: {"value": value, "source": source} for field, (value, source) in found.items()}
