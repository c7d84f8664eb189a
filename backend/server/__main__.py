"""`python -m backend.server`: the gateway alone (the hasher and image services run elsewhere)."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web
from aiohttp.web_runner import GracefulExit

from backend.server.http.web_log import DebugAccessLogger
from backend.server.instance import HANDLER_CANCELLATION, create_app
from backend.util.startup import start_process


def main() -> None:
    config = start_process("gateway")
    loop = asyncio.new_event_loop()
    stopping = False

    def stop_once() -> None:
        # Only the first signal starts the graceful exit: aiohttp's own handler raises again on every signal,
        # which cut the clean-up short (the embedded database left running) when a dying supervisor's
        # threads delivered its death signal more than once.
        nonlocal stopping
        if not stopping:
            stopping = True
            raise GracefulExit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_once)
    web.run_app(create_app(config), host=config.gateway.host, port=config.gateway.port, print=None,
                shutdown_timeout=5, loop=loop, handle_signals=False,
                handler_cancellation=HANDLER_CANCELLATION, access_log_class=DebugAccessLogger)


if __name__ == "__main__":
    main()
