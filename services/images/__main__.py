"""`python -m services.images`: serve the image service until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from backend.util.config import ConfigError, load_config
from services.images.server import build_service


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"images: bad configuration: {exc}", file=sys.stderr)
        return 2
    asyncio.run(build_service(config).serve_until_signal())
    return 0


# The guard matters: spawned pool workers import this module again as __mp_main__.
if __name__ == "__main__":
    sys.exit(main())
