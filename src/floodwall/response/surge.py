"""Surge detection: the platform's own rates over a sliding window, against a slowly learned baseline.

Counts arrive per second (go-lives by fresh or risky accounts, takedowns, reports, confirmed content
clusters, ring members, registrations on virtual numbers). Each metric's rate per minute over the
window is compared with its baseline: an exponentially weighted mean of past per-minute counts,
never below a floor (a quiet platform must not jump at two events). The baseline learns only while
the level is normal, so a long attack never becomes the new normal.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

METRICS = {
    "risky_golives": "go-lives by fresh or risky accounts",
    "takedowns": "takedowns and freezes",
    "reports": "user reports",
    "cluster_growth": "content clusters confirmed bad",
    "ring_growth": "accounts joining rings",
    "risky_registrations": "registrations on virtual-operator numbers",
}


@dataclass(frozen=True)
class Trigger:
    """A level's condition: at least `min_metrics` metrics at `ratio` times their baseline or more."""

    level: int
    ratio: float
    min_metrics: int = 1


@dataclass(frozen=True)
class SurgeSettings:
    """Window, baseline and floors (per minute) of the detector."""

    window_s: float = 120.0
    half_life_s: float = 1800.0
    warmup_s: float = 300.0
    floors: dict[str, float] = field(default_factory=lambda: {m: 1.0 for m in METRICS})
    triggers: tuple[Trigger, ...] = (Trigger(1, 3.0), Trigger(2, 6.0), Trigger(3, 12.0, 2))


@dataclass
class Reading:
    """One metric now: its rate, its baseline and their ratio."""

    rate: float
    baseline: float
    ratio: float


class SurgeDetector:
    """Keeps per-second counts and per-metric baselines; says which level the numbers call for."""

    def __init__(self, settings: SurgeSettings, start: float) -> None:
        self.s = settings
        self.start = start
        self._bins: deque[tuple[int, dict[str, float]]] = deque()  # (second, counts)
        self._sums = {m: 0.0 for m in METRICS}
        self._minute = int(start // 60)
        self._minute_counts = {m: 0.0 for m in METRICS}
        self.baseline = {m: settings.floors.get(m, 1.0) for m in METRICS}
        self._alpha = 1.0 - 0.5 ** (60.0 / settings.half_life_s)

    def add(self, t: float, counts: dict[str, float], learning: bool = True) -> None:
        """Count what happened at time t; `learning` False freezes the baseline (during an incident)."""
        minute = int(t // 60)
        while minute > self._minute:
            # A minute closed: fold it into the baseline (empty minutes count as zeros).
            if learning:
                for m in METRICS:
                    self.baseline[m] += self._alpha * (self._minute_counts[m] - self.baseline[m])
            self._minute_counts = {m: 0.0 for m in METRICS}
            self._minute += 1
            if minute - self._minute > 24 * 60:  # a long gap: no point folding a day of zeros one by one
                self._minute = minute
        sec = math.floor(t)
        if self._bins and self._bins[-1][0] == sec:
            bucket = self._bins[-1][1]
        else:
            bucket = {}
            self._bins.append((sec, bucket))
        for m, n in counts.items():
            if n:
                bucket[m] = bucket.get(m, 0.0) + n
                self._sums[m] += n
                self._minute_counts[m] += n
        self._expire(t)

    def _expire(self, t: float) -> None:
        edge = t - self.s.window_s
        while self._bins and self._bins[0][0] <= edge:
            _, old = self._bins.popleft()
            for m, n in old.items():
                self._sums[m] -= n

    def readings(self, t: float) -> dict[str, Reading]:
        """Each metric's rate per minute over the window, its baseline (floored) and their ratio."""
        self._expire(t)
        span = min(self.s.window_s, max(1.0, t - self.start))
        out = {}
        for m in METRICS:
            rate = max(0.0, self._sums[m]) * 60.0 / span
            base = max(self.baseline[m], self.s.floors.get(m, 1.0))
            out[m] = Reading(rate=rate, baseline=base, ratio=rate / base)
        return out

    def target(self, t: float) -> tuple[int, str, dict]:
        """The level the numbers call for now, why (plain words) and the evidence (the numbers)."""
        r = self.readings(t)
        if t - self.start < self.s.warmup_s:
            return 0, "learning the baseline", {}
        best, crossed_best = 0, []
        for trig in sorted(self.s.triggers, key=lambda x: x.level):
            crossed = [m for m in METRICS if r[m].ratio >= trig.ratio]
            if len(crossed) >= trig.min_metrics:
                best, crossed_best = trig.level, crossed
        if best == 0:
            top = max(METRICS, key=lambda m: r[m].ratio)
            return 0, f"highest: {describe(top, r[top])}", {top: _ev(r[top])}
        crossed_best.sort(key=lambda m: -r[m].ratio)
        why = "; ".join(describe(m, r[m]) for m in crossed_best)
        return best, why, {m: _ev(r[m]) for m in crossed_best}


def describe(metric: str, r: Reading) -> str:
    """'user reports 120.0/min vs baseline 5.0/min (x24.0)'."""
    return f"{METRICS[metric]} {r.rate:.1f}/min vs baseline {r.baseline:.1f}/min (x{r.ratio:.1f})"


def _ev(r: Reading) -> dict:
    return {"rate_per_min": round(r.rate, 2), "baseline_per_min": round(r.baseline, 2), "ratio": round(r.ratio, 2)}
