"""The one rule for a SHA-256 written as text: exactly 64 hexadecimal digits, either case (stored lower case)."""

from __future__ import annotations

import re

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256(text: object) -> bool:
    """fullmatch, not match with `$`: "…\\n" is not a hash."""
    return isinstance(text, str) and _HEX64.fullmatch(text) is not None
