"""Playbooks as data: what each incident level does, and what the detector watches, in a TOML file.

A policy's playbook is the shipped file named after it (`playbooks/<policy>.toml`), or any path.
Validation names the file, the key and the problem. docs/response.md documents the schema.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from typing import Any

from floodwall import shipped
from floodwall.response.levels import LEVELS
from floodwall.response.surge import METRICS, SurgeSettings, Trigger

_TOP = {"name", "description", "surge", "levels"}
_SURGE = {"window_minutes", "baseline_half_life_minutes", "warmup_minutes", "hold_minutes", "floors"}
_LEVEL = {
    "ratio", "min_metrics", "probation", "probation_clean_frames", "hold_golive_min_risk",
    "hold_virtual_registrations", "public", "doing",
}


class PlaybookError(ValueError):
    """A playbook file is invalid; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class LevelPlay:
    """What one level does."""

    level: int
    ratio: float
    min_metrics: int = 1
    probation: bool = False  # untrusted accounts go live limited until enough clean frames
    probation_clean_frames: int = 6
    hold_golive_min_risk: float | None = None  # untrusted go-lives at this risk or more are held (room ended)
    hold_virtual_registrations: bool = False  # new accounts on virtual-operator numbers are held
    public: str = ""  # status page: what users see
    doing: str = ""  # status page: what is being done


@dataclass(frozen=True)
class Playbook:
    """The detector's settings and each level's play."""

    name: str
    description: str
    surge: SurgeSettings
    hold_s: float
    levels: dict[int, LevelPlay] = field(default_factory=dict)
    source: str = ""

    def play(self, level: int) -> LevelPlay | None:
        """The play of a level (None at normal)."""
        return self.levels.get(level)


def _num(v: Any, where: str, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PlaybookError(f"{where}: must be a number, got {type(v).__name__} {v!r}")
    if positive and v <= 0:
        raise PlaybookError(f"{where}: must be greater than 0, got {v!r}")
    return float(v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise PlaybookError(f"{where}: must be true or false, got {v!r}")
    return v


def parse_playbook(text: str, source: str = "<string>") -> Playbook:
    """Parse and validate a playbook's text; PlaybookError names file, key and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"{source}: not valid TOML: {exc}") from None
    extra = set(data) - _TOP
    if extra:
        raise PlaybookError(f"{source}: unknown top-level keys {sorted(extra)}; known: {sorted(_TOP)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PlaybookError(f"{source}: `name` (a non-empty string) is required")
    sv = data.get("surge", {})
    bad = set(sv) - _SURGE
    if bad:
        raise PlaybookError(f"{source}: unknown [surge] keys {sorted(bad)}; known: {sorted(_SURGE)}")
    floors_raw = sv.get("floors", {})
    bad = set(floors_raw) - set(METRICS)
    if bad:
        raise PlaybookError(f"{source}: [surge.floors]: unknown metrics {sorted(bad)}; known: {sorted(METRICS)}")
    floors = {m: _num(floors_raw.get(m, 1.0), f"{source}: [surge.floors] {m}") for m in METRICS}
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, dict) or not raw_levels:
        raise PlaybookError(f"{source}: [levels] needs at least one of {', '.join(LEVELS[1:])}")
    plays: dict[int, LevelPlay] = {}
    for lname, lv in raw_levels.items():
        where = f"{source}: [levels.{lname}]"
        if lname not in LEVELS[1:]:
            raise PlaybookError(f"{where}: unknown level; known: {', '.join(LEVELS[1:])}")
        bad = set(lv) - _LEVEL
        if bad:
            raise PlaybookError(f"{where}: unknown keys {sorted(bad)}; known: {sorted(_LEVEL)}")
        if "ratio" not in lv:
            raise PlaybookError(f"{where}: `ratio` (times the baseline that raises this level) is required")
        n = LEVELS.index(lname)
        mm = lv.get("min_metrics", 1)
        if isinstance(mm, bool) or not isinstance(mm, int) or not 1 <= mm <= len(METRICS):
            raise PlaybookError(f"{where} min_metrics: must be a whole number from 1 to {len(METRICS)}, got {mm!r}")
        cf = lv.get("probation_clean_frames", 6)
        if isinstance(cf, bool) or not isinstance(cf, int) or cf < 1:
            raise PlaybookError(f"{where} probation_clean_frames: must be a whole number of 1 or more, got {cf!r}")
        hold = lv.get("hold_golive_min_risk")
        for key in ("public", "doing"):
            if not isinstance(lv.get(key, ""), str):
                raise PlaybookError(f"{where} {key}: must be text")
        plays[n] = LevelPlay(
            level=n, ratio=_num(lv["ratio"], f"{where} ratio"), min_metrics=mm,
            probation=_bool(lv.get("probation", False), f"{where} probation"), probation_clean_frames=cf,
            hold_golive_min_risk=None if hold is None else _num(hold, f"{where} hold_golive_min_risk", positive=False),
            hold_virtual_registrations=_bool(lv.get("hold_virtual_registrations", False),
                                             f"{where} hold_virtual_registrations"),
            public=lv.get("public", ""), doing=lv.get("doing", ""),
        )
    order = sorted(plays)
    for lo, hi in itertools.pairwise(order):
        a, b = plays[lo], plays[hi]
        if not (b.ratio > a.ratio or (b.ratio == a.ratio and b.min_metrics > a.min_metrics)):
            raise PlaybookError(
                f"{source}: [levels.{LEVELS[hi]}] ratio {b.ratio:g} must be above [levels.{LEVELS[lo]}] ratio "
                f"{a.ratio:g} (or need more metrics): a higher level needs a bigger surge"
            )
    surge = SurgeSettings(
        window_s=_num(sv.get("window_minutes", 2), f"{source}: [surge] window_minutes") * 60,
        half_life_s=_num(sv.get("baseline_half_life_minutes", 30), f"{source}: [surge] baseline_half_life_minutes") * 60,
        warmup_s=_num(sv.get("warmup_minutes", 5), f"{source}: [surge] warmup_minutes", positive=False) * 60,
        floors=floors,
        triggers=tuple(Trigger(p.level, p.ratio, p.min_metrics) for p in plays.values()),
    )
    hold_s = _num(sv.get("hold_minutes", 10), f"{source}: [surge] hold_minutes", positive=False) * 60
    return Playbook(name=name, description=data.get("description", ""), surge=surge, hold_s=hold_s,
                    levels=plays, source=source)


def load_playbook(name_or_path: str) -> Playbook:
    """A playbook by path, or by name among the shipped ones (src/floodwall/playbooks/)."""
    try:
        path = shipped.resolve(name_or_path, "playbooks", "playbook")
    except ValueError as exc:
        raise PlaybookError(str(exc)) from None
    return parse_playbook(path.read_text(encoding="utf-8"), source=str(path))


def playbook_for(policy_name: str) -> Playbook | None:
    """The shipped playbook named after a policy, or None (detection only, no effects)."""
    path = shipped.PACKAGE / "playbooks" / f"{policy_name}.toml"
    return parse_playbook(path.read_text(encoding="utf-8"), source=str(path)) if path.exists() else None


def without_effects(pb: Playbook) -> Playbook:
    """The same detector and levels with no effects (a policy without a playbook of its own)."""
    plays = {n: LevelPlay(level=n, ratio=p.ratio, min_metrics=p.min_metrics, public=p.public, doing="")
             for n, p in pb.levels.items()}
    return Playbook(name=f"{pb.name} (detection only)", description="levels only; no effects", surge=pb.surge,
                    hold_s=pb.hold_s, levels=plays, source=pb.source)
