"""`python -m backend.server`: the gateway alone (the hasher and image services run elsewhere)."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from backend.server.instance import create_app
from backend.util.config import ConfigError, load_config


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    # run_app turns SIGTERM and SIGINT into a graceful exit that runs every cleanup context.
    web.run_app(create_app(config), host=config.gateway.host, port=config.gateway.port, print=None,
                shutdown_timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
