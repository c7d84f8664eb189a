"""What every process does first: log with its name, and read the config or exit 2 naming the bad variable."""

from __future__ import annotations

import logging
import sys

from backend.util.config import Config, ConfigError, load_config


def start_process(name: str) -> Config:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    try:
        return load_config()
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
