"""`python -m backend.server`: the gateway alone (the hasher and image services run elsewhere)."""

from __future__ import annotations

from aiohttp import web

from backend.server.instance import create_app
from backend.util.startup import start_process


def main() -> None:
    config = start_process("gateway")
    # run_app turns SIGTERM and SIGINT into a graceful exit that runs every cleanup context.
    web.run_app(create_app(config), host=config.gateway.host, port=config.gateway.port, print=None,
                shutdown_timeout=5)


if __name__ == "__main__":
    main()
