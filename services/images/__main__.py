"""`python -m services.images`: serve the image service until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio

from backend.util.startup import start_process
from services.images.server import build_service


def main() -> None:
    asyncio.run(build_service(start_process("images")).serve_until_signal())


# The guard matters: spawned pool workers import this module again as __mp_main__.
if __name__ == "__main__":
    main()
