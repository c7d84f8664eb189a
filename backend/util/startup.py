"""What every process does first: log with its name, one record per line, and read the config or exit 2
naming the bad variable."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

from backend.util.config import Config, ConfigError, load_config


class OneLineRecords(logging.Filter):
    """A file name may hold a newline; written raw it would forge a second log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\n" in message or "\r" in message:
            record.msg = message.replace("\r", "\\r").replace("\n", "\\n")
            record.args = None
        return True


_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> None:
    """Under `make run`, SIGTERM (a clean stop) when the supervisor dies, even by SIGKILL (Linux)."""
    parent = os.environ.get("MODELVAULT_SUPERVISOR_PID")
    if not parent:
        return
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # it died before we could ask
        raise SystemExit("the supervisor is gone")


def start_process(name: str) -> Config:
    _die_with_supervisor()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLineRecords())
    try:
        return load_config()
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
