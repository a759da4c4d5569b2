"""Incident levels: rise fast, fall with hysteresis, every change recorded with why; operators can pin one."""

from __future__ import annotations

from dataclasses import dataclass, field

from floodwall.events import INCIDENT_LEVELS

LEVELS = INCIDENT_LEVELS  # declared in the model, so that layers below response (a policy's `after`) can name them


def level_number(name_or_number: str | int) -> int:
    """A level by name ("severe") or number (2); ValueError names the known levels."""
    if isinstance(name_or_number, int) and 0 <= name_or_number < len(LEVELS):
        return name_or_number
    if isinstance(name_or_number, str):
        if name_or_number.isdigit():
            return level_number(int(name_or_number))
        if name_or_number in LEVELS:
            return LEVELS.index(name_or_number)
    raise ValueError(f"unknown incident level {name_or_number!r}; known: {', '.join(LEVELS)} (or 0-3)")


@dataclass(frozen=True)
class LevelChange:
    """One change of the incident level, with the numbers that caused it."""

    t: float
    level: int
    previous: int
    why: str
    evidence: dict = field(default_factory=dict)
    source: str = "auto"  # "auto" (the surge detector), "operator", or "coordinator" (set for every partition)
    operator: str = ""

    def as_dict(self) -> dict:
        """The JSON form used by reports and the status page."""
        return {
            "t": self.t, "level": LEVELS[self.level], "previous": LEVELS[self.previous], "why": self.why,
            "evidence": self.evidence, "source": self.source, "operator": self.operator,
        }


class LevelTracker:
    """The current level: target levels rise at once, fall one step after `hold_s` of a lower target."""

    def __init__(self, hold_s: float = 600.0, start: float = 0.0) -> None:
        self.hold_s = hold_s
        self.level = 0
        self.changes: list[LevelChange] = []
        self.pinned: LevelChange | None = None  # an operator's setting, in force until released
        self._held_since = start  # when the current level's trigger last held

    def observe(self, t: float, target: int, why: str, evidence: dict) -> LevelChange | None:
        """Feed the detector's target level at time t; returns the change made, if any."""
        if self.pinned is not None:
            return None
        if target >= self.level:
            self._held_since = t
            if target > self.level:
                return self._change(t, target, why, evidence, "auto")
            return None
        # Below the current level: step down one level only after the trigger stayed clear for hold_s,
        # so that an attack pausing between waves does not flap the level (and the playbook with it).
        if t - self._held_since >= self.hold_s:
            self._held_since = t
            calm = f"{LEVELS[self.level]} trigger clear for {self.hold_s / 60:g} min"
            return self._change(t, self.level - 1, f"{calm}; now: {why}", evidence, "auto")
        return None

    def set_by_operator(self, t: float, level: int, operator: str, reason: str) -> LevelChange:
        """Pin the level by hand (recorded); the detector's view is ignored until `release`."""
        if not operator:
            raise ValueError("an operator name is required to set the level by hand")
        ch = self._change(t, level, f"set by {operator}: {reason}", {}, "operator", operator)
        self.pinned = ch
        return ch

    def follow(self, t: float, level: int, why: str, evidence: dict) -> LevelChange | None:
        """Take the level another tracker set (the coordinator's); an operator's pin still wins."""
        if self.pinned is not None or level == self.level:
            return None
        self._held_since = t
        return self._change(t, level, why, evidence, "coordinator")

    def release(self, t: float, operator: str) -> None:
        """Hand the level back to the detector (it then holds and falls as usual)."""
        self.pinned = None
        self._held_since = t

    def _change(self, t: float, level: int, why: str, evidence: dict, source: str, operator: str = "") -> LevelChange:
        ch = LevelChange(t=t, level=level, previous=self.level, why=why, evidence=evidence, source=source,
                         operator=operator)
        self.level = level
        self.changes.append(ch)
        return ch
