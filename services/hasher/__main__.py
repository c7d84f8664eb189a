"""`python -m services.hasher`: serve the hasher until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import asyncio
import logging
import sys


def main() -> int:
    # Imported here, not at the top: spawn re-imports this module in every worker, which needs none of it.
    from backend.util.config import ConfigError, load_config
    from services.hasher.server import build_service

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"hasher: {exc}", file=sys.stderr)
        return 2
    asyncio.run(build_service(config).serve_until_signal())
    return 0


if __name__ == "__main__":
    sys.exit(main())
