"""The hub job's work: ask the hub about the catalogue's contents a batch at a time, and keep what it said."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from backend.database import hub_queries
from backend.database.conflicts import retried
from backend.server.http.errors import ApiError
from backend.server.hub.answers import HubVersion
from backend.server.hub.client import BULK_SIZE, HubClient, HubFailure
from backend.server.hub.limits import RateLimit
from backend.util.hub_config import HubConfig
from backend.util.progress import Progress

# Failed batches in a row after which the job stops instead of hammering a hub that is down or broken.
FAILURES_IN_A_ROW = 3
REPORT_LIMIT = 100

# The hub's still images kept per content, for a person to choose one: the first of Civitai's are its best.
MAX_HUB_IMAGES = 20
# Fetches a found content's preview; True when one was stored (see preview_download.py).
PreviewFetcher = Callable[[aiohttp.ClientSession, HubVersion, str], Awaitable[bool]]


@dataclass
class HubReport:
    found: int = 0
    not_found: int = 0
    failed: int = 0
    previews: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def add_error(self, path: str, sha256: str, code: str, message: str) -> None:
        if len(self.errors) < REPORT_LIMIT:
            self.errors.append({"path": path, "sha256": sha256, "code": code, "message": message})


def hub_fields(version: HubVersion, hub: str) -> list[tuple[str, str, Any]]:
    """(sha256, field, value) of what the catalogue keeps; an unknown field is left out, never written empty."""
    values = {
        "model_name": version.model_name, "version_name": version.version_name, "model_type": version.model_type,
        "base_model": version.base_model, "trained_words": list(version.trained_words) or None,
        "description": version.description, "civitai_model_id": version.model_id,
        "civitai_version_id": version.version_id, "nsfw_level": version.nsfw_level,
        "page_url": version.page_url(hub), "hub_images": hub_images(version),
    }
    return [(version.sha256, name, value) for name, value in values.items() if value is not None]


def hub_images(version: HubVersion) -> list[dict[str, Any]] | None:
    """The version's still images in the hub's order, each {"url", "nsfw_level"} (null: the hub gave none)."""
    kept = [{"url": image.url, "nsfw_level": image.nsfw_level if image.rated else None}
            for image in version.images[:MAX_HUB_IMAGES]]
    return kept or None


class HubLookups:
    """One hub job over the given contents; `previews` is asked for each found content without a preview."""

    def __init__(self, pool: asyncpg.Pool, config: HubConfig, rate: RateLimit,
                 previews: PreviewFetcher | None = None) -> None:
        self._pool = pool
        self._config = config
        self._rate = rate
        self._previews = previews

    async def run(self, folder: str, refresh: bool, on_progress: Progress, sha256: str | None = None) -> HubReport:
        async with self._pool.acquire() as conn:
            if sha256 is not None:
                contents = await hub_queries.content_to_ask(conn, sha256)
            else:
                contents = await hub_queries.contents_to_ask(conn, folder, refresh)
        paths = {row["sha256"]: row["path"] for row in contents}
        hashes = list(paths)
        report = HubReport()
        await on_progress(files_done=0, files_total=len(hashes), current="")
        failures = 0
        # Redirects are refused per request; the session's own cookie jar is not kept between jobs.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            client = HubClient(session, self._config, self._rate)
            for start in range(0, len(hashes), BULK_SIZE):
                batch = hashes[start:start + BULK_SIZE]
                try:
                    answer = await client.look_up(batch)
                except HubFailure as exc:
                    failures += 1
                    await self._failed(batch, paths, str(exc), report)
                    if failures >= FAILURES_IN_A_ROW:
                        raise self._stopped(report, len(hashes) - start - len(batch), str(exc)) from None
                else:
                    failures = 0
                    await self._store(answer.found, answer.not_found, report)
                    if self._previews is not None:
                        for version, hub in answer.found.values():
                            report.previews += await self._preview(session, version, hub, paths, report)
                await on_progress(files_done=start + len(batch), files_total=len(hashes), current=paths[batch[-1]])
        return report

    async def _store(self, found: dict[str, tuple[HubVersion, str]], not_found: Sequence[str],
                     report: HubReport) -> None:
        states = [(sha256, "found", version.page_url(hub), None) for sha256, (version, hub) in found.items()]
        states += [(sha256, "not_found", None, None) for sha256 in not_found]
        fields = [row for version, hub in found.values() for row in hub_fields(version, hub)]
        async def attempt() -> None:
            async with self._pool.acquire() as conn, conn.transaction():
                await hub_queries.write_fields(conn, fields)
                await hub_queries.record_states(conn, states)

        await retried(attempt, f"storing the hub's answers for {len(states)} contents")
        report.found += len(found)
        report.not_found += len(not_found)

    async def _failed(self, batch: list[str], paths: dict[str, str], message: str, report: HubReport) -> None:
        async with self._pool.acquire() as conn:
            await hub_queries.record_failed(conn, batch, message)
        report.failed += len(batch)
        for sha256 in batch:
            report.add_error(paths[sha256], sha256, "hub_failed", message)

    async def _preview(self, session: aiohttp.ClientSession, version: HubVersion, hub: str,
                       paths: dict[str, str], report: HubReport) -> bool:
        try:
            return await self._previews(session, version, hub)
        except PreviewRefused as exc:
            report.add_error(paths[version.sha256], version.sha256, "preview_refused", str(exc))
            return False

    def _stopped(self, report: HubReport, not_asked: int, last: str) -> ApiError:
        return ApiError(
            502, "hub_unavailable",
            f"the hub failed {FAILURES_IN_A_ROW} batches in a row, so the job stopped ({last}); "
            f"found {report.found}, not found {report.not_found}, failed {report.failed}, "
            f"{not_asked} not asked: start the job again later")


class PreviewRefused(Exception):
    """The hub's preview was not taken (host not allowed, not an image, too large); the message says why."""
