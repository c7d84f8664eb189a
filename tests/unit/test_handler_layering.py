"""Request handlers talk to the use cases held in the app, never to the database or its pool."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "backend" / "server"
HANDLERS = sorted([*SERVER.rglob("views.py"), SERVER / "jobs" / "events.py", SERVER / "http" / "images.py"])
FORBIDDEN = ("backend.database", "asyncpg")
# The use cases, and the config; never the pool, the channels or the clients they are built on.
# CHANGE_BUS: the stream of catalogue changes, which a handler subscribes to (it owns its own connections).
USE_CASE_KEYS = {"CONFIG", "CATALOGUE", "LIBRARY", "LEGACY_IMPORT", "HEALTH", "JOBS", "CHANGE_BUS", "PERSONAL",
                 "HUB_PICTURES"}


def _imported(tree: ast.Module) -> list[str]:
    """Every module a file imports, with `from a import b` counted as both a and a.b (b may be a module)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _forbidden(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in FORBIDDEN)


def _app_keys(tree: ast.Module) -> set[str]:
    """The app keys a module reads: keys.NAME."""
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "keys"}


def test_every_handler_module_is_checked() -> None:
    names = {str(path.relative_to(SERVER)) for path in HANDLERS}
    assert {"catalogue/views.py", "library/views.py", "scan/views.py", "queue/views.py", "legacy/views.py",
            "health/views.py", "jobs/views.py", "jobs/events.py", "http/images.py"} <= names


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(SERVER)))
def test_a_handler_imports_no_database(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert [name for name in _imported(tree) if _forbidden(name)] == []


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: str(p.relative_to(SERVER)))
def test_a_handler_reads_only_use_cases_from_the_app(path: Path) -> None:
    assert _app_keys(ast.parse(path.read_text(), str(path))) - USE_CASE_KEYS == set()


VIEWS = sorted(SERVER.rglob("views.py"))
DATABASE = SERVER.parent / "database"
# The query modules: each subject's *_queries.py, and db.py with the queries every subject shares.
QUERY_MODULES = sorted(f"backend.database.{path.stem}" for path in [*DATABASE.glob("*_queries.py"), DATABASE / "db.py"])


def _is_query_module(name: str) -> bool:
    return name in QUERY_MODULES or name.rsplit(".", 1)[-1].endswith("_queries")


def test_every_views_and_query_module_is_checked() -> None:
    views = {str(path.relative_to(SERVER)) for path in VIEWS}
    assert {"catalogue/views.py", "library/views.py", "jobs/views.py", "legacy/views.py"} <= views
    queries = set(QUERY_MODULES)
    assert {"backend.database.db", "backend.database.library_queries", "backend.database.jobs_queries"} <= queries


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: str(p.relative_to(SERVER)))
def test_a_views_module_imports_no_query_module(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert [name for name in _imported(tree) if _is_query_module(name)] == []


# A failure of a service call is a type (adapters/failures.py); only the error middleware gives it a number.
SEAM = [SERVER / "adapters" / "failures.py", SERVER / "adapters" / "grpc_failures.py"]
USE_CASES = sorted(path for path in SERVER.rglob("*.py") if path.parent.name != "http")


@pytest.mark.parametrize("path", SEAM, ids=lambda p: p.name)
def test_the_failures_of_service_calls_know_nothing_of_http(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert [name for name in _imported(tree) if name.startswith(("aiohttp", "backend.server.http"))] == []
    http_numbers = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                    and type(node.value) is int and 400 <= node.value < 600]
    assert http_numbers == []


def _statuses_read_of_caught_exceptions(tree: ast.Module) -> list[int]:
    """Lines where an `except ... as exc` body reads exc.status: deciding by an HTTP number."""
    lines = []
    for handler in ast.walk(tree):
        if isinstance(handler, ast.ExceptHandler) and handler.name:
            lines += [node.lineno for statement in handler.body for node in ast.walk(statement)
                      if isinstance(node, ast.Attribute) and node.attr == "status"
                      and isinstance(node.value, ast.Name) and node.value.id == handler.name]
    return lines


@pytest.mark.parametrize("path", USE_CASES, ids=lambda p: str(p.relative_to(SERVER)))
def test_no_use_case_decides_by_an_http_status(path: Path) -> None:
    assert _statuses_read_of_caught_exceptions(ast.parse(path.read_text(), str(path))) == []
