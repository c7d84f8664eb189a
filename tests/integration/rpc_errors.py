"""Asserting a gRPC call's failure: its status code and a phrase of its message."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest


async def expect_error(call: Awaitable, code: grpc.StatusCode, text: str) -> str:
    """Await call, which must fail with code and a message containing text; returns the message."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    assert text in info.value.details()
    return info.value.details()
