"""The shape of a JSON body, checked on its bytes before it is parsed: how deep it nests, how many values it holds.

Parsing builds a Python object per value: a 1 MiB body of `[],` is 350,000 lists, about 24 MB. The API's
bodies are objects of a few fields (the largest, an import, names 16 folders), so a body that nests deeper
or holds more values than any request needs is refused from a scan at C speed, with nothing built.
"""

from __future__ import annotations

import re

from backend.server.http.errors import ApiError

# The deepest real body is 2 (an object holding a list of folders); the most values, about 25.
MAX_DEPTH = 32
MAX_VALUES = 10_000

# A JSON string, escapes included (unrolled: no backtracking over long strings).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRUCTURE = b"[]{},"
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)


def check_shape(raw: bytes) -> None:
    """400 when the body nests deeper than MAX_DEPTH or holds more than MAX_VALUES values in its arrays and
    objects; anything else (malformed JSON included) is left to the parser."""
    structure = _STRING.sub(b"", raw).translate(None, _NOT_STRUCTURE)
    # A body within MAX_VALUES has at most this many brackets, and a deep one is deep within its first ones:
    # the Python loop stays short whatever the body.
    _check_depth(structure.translate(None, b",")[: 2 * MAX_VALUES + 2])
    # Each container counts, and each comma starts one more member or item.
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if values > MAX_VALUES:
        raise ApiError(400, "json_too_many_values",
                       f"the JSON body holds more than {MAX_VALUES} values; no request needs that many")


def _check_depth(brackets: bytes) -> None:
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > MAX_DEPTH:
            raise ApiError(400, "json_too_deep", f"the JSON body nests deeper than {MAX_DEPTH} levels")
