"""What a report needs to be reproduced: the build it ran on, its seeds, the scenario's parameters, the command."""

from __future__ import annotations

import functools
import shlex
import subprocess
import sys
from pathlib import Path

import msgspec

import floodwall

_REPO = Path(floodwall.__file__).resolve().parents[2]


def build_info() -> dict:
    """Package version, git commit (None outside a checkout) and whether the tree had uncommitted changes."""
    return dict(_build_info())


@functools.cache  # the code a process runs is fixed when it starts: one answer per process
def _build_info() -> dict:
    info: dict = {"version": floodwall.__version__, "python": sys.version.split()[0], "commit": None, "dirty": None}
    if not (_REPO / "pyproject.toml").is_file():
        return info  # installed, not a checkout: an enclosing repository (a venv's) would name the wrong commit
    try:
        head = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return info  # an installed wheel: no git, the version is all we know
    info["commit"] = head or None
    info["dirty"] = bool(status.strip())
    return info


def seeds(seed: int) -> dict[str, int]:
    """Every random stream a replay draws from, and the seed it got (today all derive from the one --seed)."""
    return {"plan": seed, "classifier": seed, "reviewers": seed, "notifier": seed}


def scenario_params(scenario) -> dict:
    """The scenario as plain data (every default filled in), as the replay played it."""
    return msgspec.to_builtins(scenario)


def replay_command(scenario_name: str, policies: list[str], seed: int, scale: float) -> str:
    """The `floodwall replay` command that plays the same plan (for reports made through the Python API)."""
    args = ["floodwall", "replay", scenario_name]
    for p in policies:
        args += ["--policy", p]
    args += ["--seed", str(seed), "--scale", f"{scale:g}"]
    return shlex.join(args)


def cli_command(argv: list[str]) -> str:
    """The command line as typed (quoted so that it can be pasted back)."""
    return shlex.join(["floodwall", *argv])
