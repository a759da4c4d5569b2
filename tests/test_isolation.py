"""The engine never sees ground truth: nothing outside floodwall.sim imports the simulator."""

import ast
from pathlib import Path

import floodwall

ROOT = Path(floodwall.__file__).resolve().parent
ENGINE_SIDE = ["engine", "content", "coordination", "review", "response", "adapters", "events.py", "clock.py"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def engine_side_files() -> list[Path]:
    files = []
    for part in ENGINE_SIDE:
        p = ROOT / part
        files.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return files


def test_engine_side_never_imports_the_simulator():
    files = engine_side_files()
    assert len(files) > 10  # the walk really found the engine's modules
    offenders = {
        str(f.relative_to(ROOT)): sorted(m for m in imported_modules(f) if m.startswith("floodwall.sim"))
        for f in files
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_the_check_catches_an_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("from floodwall.sim.truth import Truth\nimport floodwall.sim.platform\n")
    assert imported_modules(f) == {"floodwall.sim.truth", "floodwall.sim.platform"}


def private_engine_uses(path: Path) -> list[str]:
    """`x.engine._y` or `engine._y` attribute uses (a name ending in 'engine', a private attribute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if name.lower().endswith("engine") or name in ("eng", "e_engine"):
                out.append(f"{name}.{node.attr}")
    return out


def test_nothing_outside_the_engine_touches_its_internals():
    outside = [f for f in sorted(ROOT.rglob("*.py")) if (ROOT / "engine") not in f.parents]
    assert len(outside) > 30
    offenders = {str(f.relative_to(ROOT)): private_engine_uses(f) for f in outside}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_internals_check_catches_a_use(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("now = engine._now\nhub.engine._orders.append(1)\nengine.streams\nself._engine.x\n")
    assert private_engine_uses(f) == ["engine._now", "engine._orders"]
