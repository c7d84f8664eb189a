"""The command line's grammar: global options and the scan, hash, import, hub, jobs, duplicates and find commands."""

from __future__ import annotations

import argparse
import os

from backend.cli.http import default_url

# Long enough for `make run` to start a gateway again (its supervisor waits 0.5 s to 8 s, then the gateway starts).
DEFAULT_RECONNECT_S = 30.0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be 0 to 3600 seconds: {text!r}")
    return value


def _job_id(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a job id is a positive whole number: {text!r}")
    return int(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=argparse.SUPPRESS,
                        help="the ModelVault API (env MODELVAULT_URL; default: http://MODELVAULT_HTTP_HOST:"
                             "MODELVAULT_HTTP_PORT, as the gateway listens, else http://127.0.0.1:8080)")
    parser.add_argument("--token", default=argparse.SUPPRESS,
                        help="the API token, sent as a Bearer token (env MODELVAULT_API_TOKEN)")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the API's answer as JSON, for scripts")
    parser.add_argument("--reconnect", type=_seconds, default=argparse.SUPPRESS, metavar="S",
                        help="how long to keep trying to reach an API that went away while a job is followed "
                             f"(env MODELVAULT_RECONNECT_S, default {DEFAULT_RECONNECT_S:.0f})")


def _job_commands(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser("scan", help="find new, changed and missing model files (a scan job)")
    scan.add_argument("--folder", help="an absolute folder inside the model roots (default: every root)")
    scan.add_argument("--prune", action="store_true", help="forget records whose file is gone")
    hashing = commands.add_parser("hash", help="hash the files waiting in the queue (a hash job)")
    hashing.add_argument("--folder", help="only files under this absolute folder")
    hashing.add_argument("--limit", type=_positive, help="hash at most this many files")
    importing = commands.add_parser("import", help="take hashes, names and previews other tools recorded")
    importing.add_argument("--folder", help="only files under this absolute folder")
    importing.add_argument("--a1111-root", action="append", default=[], metavar="R",
                           help="an AUTOMATIC1111 web UI folder whose cache.json to read (repeatable)")
    importing.add_argument("--dry-run", action="store_true", help="report what would be imported, change nothing")
    importing.add_argument("--verify", action="store_true", help="hash the files too, to check the recorded hashes")
    hub = commands.add_parser("hub", help="look the models up on the hub by SHA-256 (only the hashes are sent)")
    hub.add_argument("--folder", help="only models under this absolute folder")
    hub.add_argument("--refresh", action="store_true", help="ask again about models already found or not found")
    for parser in (scan, hashing, importing, hub):
        _common(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelvault", description="Drive a ModelVault server from the terminal, over its REST API.",
        epilog="exit codes: 0 done, 1 job failed or interrupted, 2 usage error, 3 API unreachable, "
               "4 API refused the request, 130 cancelled")
    _common(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _job_commands(commands)
    jobs = commands.add_parser("jobs", help="list recent jobs; show or cancel one")
    _common(jobs)
    jobs.add_argument("--limit", type=_positive, default=20, help="how many recent jobs to list (default 20)")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (("show", "one job in full"), ("cancel", "cancel a queued or running job")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=_job_id)
        _common(action)
    duplicates = commands.add_parser("duplicates", help="files with the same content, and the bytes they waste")
    _common(duplicates)
    find = commands.add_parser("find", help="models whose name, version, trigger words, base model, folder or file "
                                            "name holds TEXT, or whose hash (SHA-256 or its first 10 digits) is TEXT")
    find.add_argument("text", metavar="TEXT", help="words that must all be found, or a pasted hash")
    find.add_argument("--model-type", help="only this model type (lora, checkpoint, vae, embedding, ..., unknown)")
    find.add_argument("--base-model", help="only this base model (as the library lists it, or unknown)")
    find.add_argument("--limit", type=_positive, default=50, help="show at most this many models (default 50)")
    _common(find)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    options = parser.parse_args(argv)
    options.url = getattr(options, "url", None) or default_url(os.environ)
    options.token = getattr(options, "token", None) or os.environ.get("MODELVAULT_API_TOKEN") or None
    options.json = getattr(options, "json", False)
    if not hasattr(options, "reconnect"):
        raw = os.environ.get("MODELVAULT_RECONNECT_S")
        try:
            options.reconnect = _seconds(raw) if raw else DEFAULT_RECONNECT_S
        except argparse.ArgumentTypeError as exc:
            parser.error(f"MODELVAULT_RECONNECT_S: {exc}")
    if not options.url.startswith(("http://", "https://")):
        parser.error(f"--url must start with http:// or https://; got {options.url!r}")
    return options
