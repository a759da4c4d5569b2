"""Nothing outside engine/ touches the engine's internals (an `engine._x` attribute).

Which package may import which (the simulator included) is import-linter's contracts in pyproject.toml,
checked by tests/test_layers.py; import-linter sees imports, not attribute uses, so this check stays here.
"""

import ast
from pathlib import Path

import floodwall

ROOT = Path(floodwall.__file__).resolve().parent


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
