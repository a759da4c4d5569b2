"""The layer contracts (pyproject.toml, [tool.importlinter]) hold, and they catch an import that breaks them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import floodwall

pytest.importorskip("importlinter")

REPO = Path(__file__).resolve().parents[1]
SRC = Path(floodwall.__file__).resolve().parent
CONFIG = REPO / "pyproject.toml"


def lint(src_parent: Path) -> subprocess.CompletedProcess:
    """Run lint-imports with the project's contracts on the `floodwall` package found under src_parent."""
    env = {**os.environ, "PYTHONPATH": str(src_parent)}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], " \
           "no_cache=True, show_timings=False, verbose=False))"
    return subprocess.run([sys.executable, "-c", code, str(CONFIG)], env=env, cwd=src_parent,
                          capture_output=True, text=True, timeout=300)


def test_the_contracts_hold():
    r = lint(SRC.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 kept, 0 broken" in r.stdout


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> subprocess.CompletedProcess:
    """A copy of the package with one import against each contract."""
    root = tmp_path_factory.mktemp("src")
    shutil.copytree(SRC, root / "floodwall", ignore=shutil.ignore_patterns("__pycache__", "*.tsv", "*.csv"))
    (root / "floodwall" / "engine" / "peek.py").write_text(
        '"""Reads the truth and serves a page: everything a layer must not do."""\n'
        "from floodwall.sim import truth\nimport fastapi\nimport sqlalchemy\nfrom floodwall.service import hub\n")
    (root / "floodwall" / "newpkg.py").write_text('"""A module no layer names."""\n')
    return lint(root)


def test_a_reverse_import_breaks_the_layers(broken):
    assert broken.returncode == 1
    out = broken.stdout
    assert "Layers: each imports only downward BROKEN" in out
    assert "floodwall.engine.peek -> floodwall.service.hub" in out
    assert "floodwall.newpkg" in out  # exhaustive: a module outside every layer is named


def test_the_engine_side_never_imports_the_simulator(broken):
    assert "The engine side never imports the simulator (it never sees ground truth) BROKEN" in broken.stdout
    assert "floodwall.engine.peek -> floodwall.sim" in broken.stdout


def test_the_core_does_no_io_and_serves_no_http(broken):
    out = broken.stdout
    assert "The decision core does no I/O: no database, log, network or web library BROKEN" in out
    assert "HTTP routes and pages live only in service/ BROKEN" in out
    assert "floodwall.engine.peek -> fastapi" in out and "floodwall.engine.peek -> sqlalchemy" in out
