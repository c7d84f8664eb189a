"""Life of a gRPC aio service: health, reflection, port binding, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.reflection import enable_reflection

log = logging.getLogger(__name__)

# Seconds that in-flight calls get to finish after SIGTERM; docker's default grace is 10 s.
STOP_GRACE_S = 5.0


class GrpcService:
    """One gRPC server with the standard health and reflection services beside ours."""

    def __init__(
        self,
        listen: str,
        register: Callable[[grpc.aio.Server], None],
        service_names: Sequence[str],
        on_stop: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
        max_receive_bytes: int = 4 * 1024 * 1024,
        max_connection_age_s: float | None = None,
    ) -> None:
        self._listen = listen
        self._register = register
        self._service_names = tuple(service_names)
        self._on_stop = on_stop
        self._on_start = on_start
        self._max_receive_bytes = max_receive_bytes
        self._max_connection_age_s = max_connection_age_s
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port = 0

    async def start(self) -> int:
        """Bind (port 0 picks a free port), start serving and return the port."""
        options = [
            # Off: with reuseport a second server could silently share our port instead of failing.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", self._max_receive_bytes),
        ]
        if self._max_connection_age_s is not None:
            # GOAWAY after this age; calls in flight finish (the grace is unlimited), new ones reconnect.
            options.append(("grpc.max_connection_age_ms", int(self._max_connection_age_s * 1000)))
        server = grpc.aio.server(options=options)
        self._register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        enable_reflection(server, (*self._service_names, health.SERVICE_NAME))
        self.port = server.add_insecure_port(self._listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {self._listen}")
        await server.start()
        self._server = server
        for name in ("", *self._service_names):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self._on_start is not None:
            self._on_start()
        return self.port

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Say NOT_SERVING first so balancers drain us, then let in-flight calls finish."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None
        if self._on_stop is not None:
            self._on_stop()

    async def serve_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop cleanly (exit status 0 for the caller)."""
        port = await self.start()
        log.info("serving %s on %s (port %d)", ", ".join(self._service_names), self._listen, port)
        # The line a supervisor (make run, tests) reads to learn the port when listening on :0, or the socket.
        print(f"LISTENING {self._listen if self._listen.startswith('unix:') else port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
        await self.stop()
