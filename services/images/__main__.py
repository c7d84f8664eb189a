"""`python -m services.images`: serve the image service until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import asyncio


def main() -> None:
    # Imported here, not at the top: spawn re-imports this module in every worker, which needs none of it.
    from backend.util.startup import start_process
    from services.images.server import build_service

    asyncio.run(build_service(start_process("images")).serve_until_signal())


# The guard matters: spawned pool workers import this module again as __mp_main__.
if __name__ == "__main__":
    main()
