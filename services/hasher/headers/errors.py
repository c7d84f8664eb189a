"""The one exception of header reading: the header is malformed, truncated or too large (that file's note)."""

from __future__ import annotations


class HeaderError(ValueError):
    """The header cannot be read as its format defines it; the message says why, for a person."""
