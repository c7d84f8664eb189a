"""Queries on the jobs table: create, read, record progress and the end, beat the heart, find dead jobs."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from asyncpg import Record

from backend.util.progress import ProgressFields

LIVE_STATES = ("queued", "running")
_COLUMNS = """id, kind, params, state, files_done, files_total, bytes_done, bytes_total, errors, current,
              result, error_code, error, created_at, started_at, finished_at, started_by, now() AS observed_at"""
# The columns a job's progress writes: every field a progress report may carry.
PROGRESS_FIELDS = tuple(ProgressFields.__annotations__)


class JobRunningError(Exception):
    """A live job of the same kind over the same folder exists already."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} is running")
        self.job_id = job_id


async def insert_job(
    conn: asyncpg.Connection, *, kind: str, params: dict[str, Any], exclusive_key: str | None, owner: str,
    owner_data_dir: str | None = None, started_by: str = "api",
) -> Record:
    """A new queued job; JobRunningError when exclusive_key is taken by a live job.

    owner_data_dir: the data folder whose lock the owner holds, if it holds one (see interrupt_predecessors).
    """
    try:
        return await conn.fetchrow(
            f"""INSERT INTO jobs (kind, params, exclusive_key, owner, owner_data_dir, started_by)
                VALUES ($1, $2::jsonb, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
            kind, json.dumps(params), exclusive_key, owner, owner_data_dir, started_by,
        )
    except asyncpg.UniqueViolationError:
        running = await conn.fetchval(
            "SELECT id FROM jobs WHERE exclusive_key = $1 AND state = ANY($2::text[])", exclusive_key, LIVE_STATES
        )
        # It may have ended between our insert and this read: then the caller may simply try again.
        raise JobRunningError(running or 0) from None


async def get_job(conn: asyncpg.Connection, job_id: int) -> Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM jobs WHERE id = $1", job_id)


async def list_jobs(conn: asyncpg.Connection, limit: int, offset: int) -> tuple[list[Record], int]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
    return rows, await conn.fetchval("SELECT count(*) FROM jobs")


async def mark_running(conn: asyncpg.Connection, job_id: int) -> None:
    await conn.execute(
        "UPDATE jobs SET state = 'running', started_at = now(), heartbeat_at = now() WHERE id = $1", job_id
    )


async def record_progress(conn: asyncpg.Connection, job_id: int, fields: dict[str, Any]) -> None:
    """Write the counters that changed; also a heartbeat."""
    names = [name for name in PROGRESS_FIELDS if name in fields]
    sets = ", ".join(f"{name} = ${index}" for index, name in enumerate(names, start=2))
    sets = f"{sets}, heartbeat_at = now()" if sets else "heartbeat_at = now()"
    await conn.execute(f"UPDATE jobs SET {sets} WHERE id = $1 AND state = 'running'", job_id,
                       *(fields[name] for name in names))


async def finish_job(
    conn: asyncpg.Connection, job_id: int, *, state: str, progress: dict[str, Any],
    result: dict[str, Any] | None = None, error_code: str | None = None, error: str | None = None,
) -> None:
    """The end of a job: its final counters, its result or error; leased rows it still holds go back."""
    async with conn.transaction():
        await record_progress(conn, job_id, progress)
        await conn.execute(
            """UPDATE jobs SET state = $2, result = $3::jsonb, error_code = $4, error = $5, finished_at = now(),
                      exclusive_key = NULL
               WHERE id = $1""",
            job_id, state, json.dumps(result) if result is not None else None, error_code, error,
        )
        await release_leases(conn, [job_id])


async def beat(conn: asyncpg.Connection, job_ids: list[int]) -> list[int]:
    """Say these jobs' tasks are alive; returns those that a gateway was asked to cancel."""
    rows = await conn.fetch(
        """UPDATE jobs SET heartbeat_at = now() WHERE id = ANY($1::bigint[]) AND state = ANY($2::text[])
           RETURNING id, cancel_requested""",
        job_ids, LIVE_STATES,
    )
    return [r["id"] for r in rows if r["cancel_requested"]]


async def request_cancel(conn: asyncpg.Connection, job_id: int) -> None:
    await conn.execute(
        "UPDATE jobs SET cancel_requested = true WHERE id = $1 AND state = ANY($2::text[])", job_id, LIVE_STATES
    )


async def interrupt_stale(conn: asyncpg.Connection, stale_s: float) -> list[int]:
    """Jobs whose gateway stopped beating: interrupted, keeping their counts; their leased rows go back."""
    return await _interrupt(conn, "the gateway running this job stopped",
                            "heartbeat_at < now() - make_interval(secs => $3)", stale_s)


async def interrupt_predecessors(conn: asyncpg.Connection, data_dir: str, owner: str) -> list[int]:
    """Live jobs of the earlier gateways of a data folder whose lock `owner` now holds: every one of them is
    dead (the lock left with its process), so their jobs end now, not once their heartbeat has aged."""
    return await _interrupt(conn, "the gateway running this job stopped (restarted)",
                            "owner_data_dir = $3 AND owner <> $4", data_dir, owner)


async def _interrupt(conn: asyncpg.Connection, reason: str, which: str, *args: Any) -> list[int]:
    """The live jobs `which` selects ($3 on) end interrupted for `reason`, keeping their counts; their leased
    rows go back to the queue in the same transaction."""
    async with conn.transaction():
        ids = [r["id"] for r in await conn.fetch(
            f"""UPDATE jobs SET state = 'interrupted', finished_at = now(), exclusive_key = NULL,
                       error_code = 'interrupted', error = $2
                WHERE state = ANY($1::text[]) AND {which}
                RETURNING id""",
            LIVE_STATES, reason, *args,
        )]
        await release_leases(conn, ids)
    return ids


async def release_leases(conn: asyncpg.Connection, job_ids: list[int]) -> None:
    """What the jobs did not hash stays pending, at once claimable again."""
    if job_ids:
        await conn.execute(
            "UPDATE pending_models SET claimed_until = NULL, claimed_by = NULL WHERE claimed_by = ANY($1::bigint[])",
            job_ids,
        )
