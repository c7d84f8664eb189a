"""The project's size rules, kept true by the suite: no module over 300 lines, no function over 50."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("backend", "services") for p in (ROOT / folder).rglob("*.py"))
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # From the first decorator, as a reader sees it.
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            yield node.name, node.end_lineno - start + 1


def test_the_sources_are_found():
    assert len(SOURCES) > 50 and all("pb2" not in p.name for p in SOURCES)


def test_no_module_is_over_300_lines():
    long = {_name(p): n for p in SOURCES if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long


def test_no_function_is_over_50_lines():
    long = {f"{_name(p)}:{name}": n for p in SOURCES
            for name, n in _functions(ast.parse(p.read_text())) if n > MAX_FUNCTION_LINES}
    assert not long


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))
