"""Which gateways are alive: each holds one idle session named for its start id, which ends with its process.

A heartbeat row would outlive a crashed gateway by its timeout, and `make run` restarts a gateway within a
second; a session's end is immediate (the kernel closes a dead process's socket, and its idle backend exits).
"""

from __future__ import annotations

import asyncpg

# pg_stat_activity shows every session's application_name (at most 63 bytes: this and 32 hex digits fit).
_PREFIX = "modelvault-gateway "


def application_name(start_id: str) -> str:
    """The name of the session that says the gateway started as start_id is alive."""
    return f"{_PREFIX}{start_id}"


async def live_start_ids(conn: asyncpg.Connection) -> set[str]:
    """The start ids of the gateways whose session is open now, this one's included."""
    rows = await conn.fetch(
        "SELECT DISTINCT substr(application_name, $2) FROM pg_stat_activity WHERE starts_with(application_name, $1)",
        _PREFIX, len(_PREFIX) + 1)
    return {row[0] for row in rows}
