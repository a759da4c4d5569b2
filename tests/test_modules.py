"""Every module is small and says its job: under 500 lines, and a docstring as its first statement."""

import ast
from pathlib import Path

import floodwall

ROOT = Path(floodwall.__file__).resolve().parent
MAX_LINES = 500


def modules(root: Path) -> list[Path]:
    """Every Python file under root (scripts under data/ included)."""
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def too_long(paths: list[Path], root: Path) -> dict[str, int]:
    """The modules of 500 lines or more, with their length."""
    out = {}
    for p in paths:
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n >= MAX_LINES:
            out[str(p.relative_to(root))] = n
    return out


def without_docstring(paths: list[Path], root: Path) -> list[str]:
    """The modules whose first statement is not a docstring of at least three words."""
    out = []
    for p in paths:
        doc = ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
        if not doc or len(doc.split()) < 3:
            out.append(str(p.relative_to(root)))
    return out


def test_the_walk_finds_the_package():
    paths = modules(ROOT)
    assert len(paths) > 100
    assert ROOT / "engine" / "engine.py" in paths and ROOT / "events.py" in paths


def test_every_module_is_under_500_lines():
    assert too_long(modules(ROOT), ROOT) == {}


def test_every_module_opens_with_a_docstring():
    assert without_docstring(modules(ROOT), ROOT) == []


def test_the_checks_catch_a_long_or_silent_module(tmp_path):
    (tmp_path / "long.py").write_text('"""A long module, for the test."""\n' + "x = 1\n" * 499)
    (tmp_path / "short.py").write_text('"""Just under the bar, for the test."""\n' + "x = 1\n" * 498)
    (tmp_path / "silent.py").write_text('import os\n"""Not first, so not a docstring."""\n')
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "terse.py").write_text('"""Stuff."""\n')
    (tmp_path / "ok.py").write_text('# a comment first is fine\n"""Holds one thing, and says so."""\nx = 1\n')
    paths = modules(tmp_path)
    assert too_long(paths, tmp_path) == {"long.py": 500}
    assert without_docstring(paths, tmp_path) == ["__init__.py", "silent.py", "terse.py"]
