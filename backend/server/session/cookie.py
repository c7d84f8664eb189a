"""The page's sign-in cookie: set by the gateway (HttpOnly, so no script reads it), named for this instance.

Cookies are scoped by host, not by port: every web service on this host receives this one too. So it holds no
token, only a value derived from it that this gateway alone accepts, and its name is derived from the token,
the data folder and the port, so that two instances on one host keep one cookie each and nobody without the
token can name it to overwrite it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from backend.util.config import Config

SESSION_PATH = "/api/session"


@dataclass(frozen=True)
class SessionCookie:
    name: str
    value: str


def _derived(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), f"modelvault {purpose}".encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _cookie(token: str, instance: str) -> SessionCookie:
    name = "modelvault_" + _derived(token, f"cookie name {instance}")[:16]
    return SessionCookie(name, _derived(token, f"session {name}"))


def session_cookie(config: Config) -> SessionCookie | None:
    """This instance's cookie, or None when it needs no token."""
    token = config.gateway.api_token
    if token is None:
        return None
    return _cookie(token, f"{config.data_dir}:{config.gateway.port}")


def carries_session(cookies: Mapping[str, str], config: Config) -> bool:
    """Whether a request's cookies hold this instance's session (compared in constant time)."""
    expected = session_cookie(config)
    if expected is None or expected.name not in cookies:
        return False
    return hmac.compare_digest(cookies[expected.name].encode(), expected.value.encode())
