"""A job told as a person reads it: who started it, what it did in words, and each problem with its file and reason.

One place, so that the page and `modelvault jobs show` say the same thing.
"""

from __future__ import annotations

from typing import Any

from backend.database.jobs_queries import LIVE_STATES

# What may start a job, as a row says it; a client names itself with the X-ModelVault-Started-By header.
STARTERS = {
    "page": "the page", "cli": "the command line", "watcher": "the watcher", "start-up": "the start-up scan",
    "hub-auto": "a hash job (MODELVAULT_HUB_AUTO)", "api": "a request to the API",
}
# The names a client may give itself; the others are the gateway's own.
CLIENT_STARTERS = frozenset({"page", "cli"})
# A story lists at most this many problems (a job's result keeps up to 100 of them).
PROBLEMS_SHOWN = 100

# For each kind, the result's counts in the order told, with the words for one and for many.
_PHRASES: dict[str, list[tuple[str, str, str]]] = {
    "scan": [("found", "found {} file", "found {} files"), ("registered", "{} new", "{} new"),
             ("changed_count", "{} changed", "{} changed"), ("recognised", "{} moved", "{} moved"),
             ("imported", "{} from another tool's hash", "{} from other tools' hashes"),
             ("previews_changed", "{} preview changed", "{} previews changed"),
             ("missing", "{} missing", "{} missing"), ("pruned", "{} record removed", "{} records removed")],
    "hash": [("hashed_count", "hashed {} file", "hashed {} files"),
             ("remaining", "{} still pending", "{} still pending"),
             ("set_aside", "{} set aside after failing", "{} set aside after failing")],
    "import": [("trusted", "took {} hash from other tools", "took {} hashes from other tools"),
               ("pending", "{} to be hashed", "{} to be hashed"),
               ("already_known", "{} already known", "{} already known"),
               ("metadata", "{} field written", "{} fields written")],
    "headers": [("read", "read {} header", "read {} headers"),
                ("header_errors", "{} malformed", "{} malformed"),
                ("previews", "{} preview taken", "{} previews taken")],
    "hub": [("found", "{} found on the hub", "{} found on the hub"),
            ("not_found", "{} unknown there", "{} unknown there"),
            ("failed", "{} not answered", "{} not answered"), ("previews", "{} preview taken", "{} previews taken")],
}


def problems(result: dict[str, Any] | None) -> list[dict[str, str]]:
    """Every failure the result names: the file (or content) and the reason, in words."""
    if not isinstance(result, dict):
        return []
    found: list[dict[str, str]] = []
    for name in ("errors", "skipped", "thumbnail_errors", "conflicts"):
        for item in result.get(name) or []:
            if isinstance(item, dict):
                found.append({"path": str(item.get("path") or item.get("sha256") or ""),
                              "reason": _reason(name, item)})
    return found[:PROBLEMS_SHOWN]


def _reason(list_name: str, item: dict[str, Any]) -> str:
    if list_name == "conflicts":
        return "the other tools disagree about its hash, so it will be hashed"
    return str(item.get("message") or item.get("reason") or item.get("code") or "failed")


def summary(kind: str, state: str, result: dict[str, Any] | None, error: dict[str, str] | None) -> str:
    """What the job did (or is doing), in one sentence."""
    if state in LIVE_STATES:
        return "Waiting to start." if state == "queued" else "Working."
    told = [_counted(result, *phrase) for phrase in _PHRASES.get(kind, [])] if isinstance(result, dict) else []
    told = [words for words in told if words]
    issues = len(problems(result))
    if issues:
        told.append(f"{issues} problem{'s' if issues != 1 else ''}")
    did = (", ".join(told) if told else "nothing to do").capitalize()
    if state == "done":
        return f"{did}."
    ending = {"failed": "Failed", "cancelled": "Cancelled", "interrupted": "Interrupted"}.get(state, state)
    reason = f": {error['message']}" if error and error.get("message") else ""
    return f"{ending}{reason}." + (f" Before that: {did[0].lower()}{did[1:]}." if told else "")


def _counted(result: dict[str, Any], field: str, one: str, many: str) -> str | None:
    value = result.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        return None
    return (one if value == 1 else many).format(f"{value:,}")
