"""The tune and test sets of the scenario library (data/eval-sets.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from floodwall import shipped

SETS_FILE = shipped.PACKAGE / "data" / "eval-sets.toml"


@dataclass(frozen=True)
class EvalSet:
    """Families and seeds of one set."""

    families: tuple[str, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class EvalSets:
    """The tune set, the test set, and the families held out of tuning."""

    tune: EvalSet
    test: EvalSet

    @property
    def held_out(self) -> tuple[str, ...]:
        """Test families never tuned on."""
        return tuple(f for f in self.test.families if f not in self.tune.families)

    def get(self, name: str) -> EvalSet:
        """A set by name ("tune" or "test")."""
        if name not in ("tune", "test"):
            raise ValueError(f"--set must be 'tune' or 'test', not {name!r}")
        return self.tune if name == "tune" else self.test


def load_sets(path: str | Path = SETS_FILE) -> EvalSets:
    """Read and check the sets file: each set has families (shipped names) and integer seeds."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    known = {p.stem for p in (shipped.PACKAGE / "scenarios").glob("*.toml")}
    out = {}
    for key in ("tune", "test"):
        sec = data.get(key)
        if not isinstance(sec, dict):
            raise ValueError(f"{path}: [{key}] is missing")
        fams, seeds = sec.get("families"), sec.get("seeds")
        if not isinstance(fams, list) or not all(isinstance(f, str) and f in known for f in fams):
            raise ValueError(f"{path}: {key}.families must list shipped scenarios ({', '.join(sorted(known))})")
        if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ValueError(f"{path}: {key}.seeds must be a list of integers")
        out[key] = EvalSet(tuple(fams), tuple(seeds))
    return EvalSets(**out)
