"""The lock files pin every dependency pyproject.toml declares, within its range, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from a `uv pip compile --generate-hashes` file."""
    text = path.read_text().replace("\\\n", " ")
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\],]+)==(\S+)(.*)$", line.strip())
        if m:
            name = canonicalize_name(m.group(1).split("[")[0])
            out[name] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3)))
    return out


def applies(req: Requirement, extra: str = "") -> bool:
    return req.marker is None or Marker(str(req.marker)).evaluate({"extra": extra, "python_version": "3.11"})


@pytest.mark.parametrize(("lock", "extras"), [("lock.txt", []), ("lock-test.txt", ["test"])])
def test_lock_covers_pyproject_within_its_ranges_with_hashes(lock, extras):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    pins = locked(ROOT / "requirements" / lock)
    assert len(pins) >= len(wanted)
    for req in wanted:
        if not applies(req):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements/{lock}: run scripts/lock.sh"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req.specifier}"
        assert hashes, f"{name} has no hash in requirements/{lock}"
    assert all(h for _, h in pins.values()), "every pin needs a hash (pip --require-hashes refuses otherwise)"


def test_the_install_scripts_use_the_lock_with_hashes():
    for script, lock in (("scripts/test.sh", "lock-test.txt"), ("scripts/replay.sh", "lock.txt")):
        text = (ROOT / script).read_text()
        assert f"--require-hashes -r requirements/{lock}" in text and "--no-deps -e ." in text and "pip check" in text
