"""`python -m backend.cli` and the `modelvault` script: run one command and exit with a code scripts can test."""

from __future__ import annotations

import signal
import sys

from backend.cli.args import parse
from backend.cli.commands import COMMANDS
from backend.cli.follow import Cancelled
from backend.cli.http import ApiClient, Refused, Unreachable
from backend.cli.progress import job_name

EXIT_FAILED, EXIT_UNREACHABLE, EXIT_REFUSED, EXIT_CANCELLED = 1, 3, 4, 130


def _say(message: str) -> None:
    print(f"modelvault: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C must reach us as KeyboardInterrupt even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    options = parse(argv)
    client = ApiClient(options.url, options.token)
    try:
        return COMMANDS[options.command](client, options)
    except Unreachable as exc:
        _say(str(exc))
        return EXIT_UNREACHABLE
    except Refused as exc:
        _say(str(exc))
        return EXIT_REFUSED if 400 <= exc.status < 500 else EXIT_FAILED
    except Cancelled as exc:
        if exc.job is None:
            _say("interrupted; the server may finish what it started")
        else:
            _say(f"{job_name(exc.job)} {exc.job['state']}")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
