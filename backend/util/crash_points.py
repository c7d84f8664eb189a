"""Fault injection: MODELVAULT_CRASH_AT=<step> SIGKILLs the process right after that step (dev mode only)."""

from __future__ import annotations

import os
import signal

# Read once, here only. Honoured only with MODELVAULT_DEV=1, so that no production setting can arm it.
_CRASH_AT = os.environ.get("MODELVAULT_CRASH_AT", "") if os.environ.get("MODELVAULT_DEV") == "1" else ""


def crash_point(step: str) -> None:
    """Die here, as a power cut would (no clean-up, no finally), when the tests asked for this step."""
    if step == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
