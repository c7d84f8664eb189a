"""MODELVAULT_HUB_AUTO=1: every hash job that catalogued something is followed by a hub job over its folder.

The person opted in once, in the configuration; without it nothing is ever sent. Every hash job passes here (the
watcher's, the page's, the command line's, POST /api/models/pending/hash), so every newly hashed file is asked
about. A hub job already running over that folder is left alone: what it did not take, the next one does.
"""

from __future__ import annotations

import logging
from typing import Any

from backend.database.jobs_queries import JobRunningError
from backend.server.jobs.context import JobContext
from backend.server.jobs.runner import JobKind, JobRunner

log = logging.getLogger(__name__)


def then_hub(hash_kind: JobKind, runner: JobRunner) -> JobKind:
    async def run(ctx: JobContext) -> dict[str, Any]:
        result = await hash_kind.run(ctx)
        if result.get("hashed_count"):
            try:
                await runner.start("hub", {"folder": ctx.params.get("folder", ""), "refresh": False},
                                   started_by="hub-auto")
            except JobRunningError:
                pass
            except Exception as exc:  # noqa: BLE001 - the hash job did its work; the next one starts the hub job
                log.warning("the hub job after hash job %d could not start: %s", ctx.job_id, exc)
        return result

    return JobKind(run=run, validate=hash_kind.validate)
