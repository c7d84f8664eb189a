"""The page's errors as a test sees them: a script error or a console error fails the test, except the failed
answers that the test provokes on purpose (a stopped service, a wrong token, an unknown model)."""

from __future__ import annotations

import re
import weakref

# Chromium's console line for an answer that is not a success.
_FAILED_RESOURCE = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")
_PROVOKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def provokes(tab, *statuses: int) -> None:
    """The test makes the gateway answer these statuses on purpose: the browser's console lines for them are
    expected. Any other console error still fails the test."""
    _PROVOKED.setdefault(tab, set()).update(statuses)


def watch_errors(tab) -> list[str]:
    """The list the tab's errors go to from now on."""
    errors: list[str] = []

    def console(message) -> None:
        if message.type != "error":
            return
        failed = _FAILED_RESOURCE.match(message.text)
        if failed is None or int(failed.group(1)) not in _PROVOKED.get(tab, set()):
            errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", console)
    return errors
