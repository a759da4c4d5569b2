"""Numbers as people read them: "1,683", "1 in 1.6 million", "17 of 270 (6.3%)", "8 min 4 s"; never 6.332e-07."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

MISSING = "–"  # an en dash: no value (not measured, or no denominator)
_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def _sig(x: float, digits: int) -> float:
    """x rounded to `digits` significant figures."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def count(n: int | float | None) -> str:
    """A whole count with thousands separators ("1,683")."""
    if n is None:
        return MISSING
    return f"{round(n):,}"


def number(x: float | int | None) -> str:
    """A measured quantity, rounded for reading: 794,751 / 24.2 / 2.71 / 0.0035 / 1.6 million."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "yes" if x else "no"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("-∞" if x < 0 else "n/a")
    a = abs(x)
    if a >= 1e6:
        return big(x)
    if a >= 100 or float(x).is_integer():
        return f"{round(x):,}"
    if a >= 10:
        return f"{x:.1f}"
    if a < 1e-12:
        return "0"
    # three significant figures, as many decimals as that takes (0.00000063, not 6.3e-07)
    decimals = max(0, 2 - int(math.floor(math.log10(a))))
    return f"{_sig(x, 3):.{decimals}f}".rstrip("0").rstrip(".")


def big(x: float) -> str:
    """A large number in words, two significant figures: "1.6 million", "470,000"."""
    sign = "-" if x < 0 else ""
    a = _sig(abs(x), 2)
    for scale, word in _WORDS:
        if a >= scale:
            v = a / scale
            return f"{sign}{v:.1f} {word}".replace(".0 ", " ") if v < 1000 else f"{sign}{v:,.0f} {word}"
    return f"{sign}{a:,.0f}"


def one_in(p: float) -> str:
    """A small share as "1 in N" (N rounded to two figures): 6.332e-07 -> "1 in 1.6 million"."""
    if p <= 0:
        return "none"
    return f"1 in {big(1 / p)}"


def percent(p: float | None) -> str:
    """A share as a percentage, two significant figures for small ones ("6.3%", "0.042%", "100%")."""
    if p is None:
        return MISSING
    v = p * 100
    if v == 0:
        return "0%"
    if abs(v) >= 10:
        return f"{round(v):,}%" if abs(v - round(v)) < 0.05 or abs(v) >= 100 else f"{v:.1f}%"
    return f"{number(_sig(v, 2))}%"


def share(part: int | None, whole: int | None) -> str:
    """A count out of its denominator: "17 of 270 (6.3%)"."""
    if part is None:
        return MISSING
    if whole is None:
        return count(part)
    if whole == 0:
        return f"{count(part)} of 0"
    return f"{count(part)} of {count(whole)} ({percent(part / whole)})"


def ratio(value: float | None, base: float | None) -> str:
    """How a value compares with the baseline's, in words: "same", "0.48×", "1 in 470,000", "2.3×", "none (0)",
    "+3 (baseline 0)"."""
    if value is None or base is None:
        return MISSING
    if base == 0:
        return "same (both 0)" if value == 0 else f"{'+' if value > 0 else ''}{number(value)} (baseline 0)"
    r = value / base
    if r == 0:
        return "none (0)"
    if r < 0:
        return f"{number(r)}×"
    if abs(r - 1) < 0.005:
        return "same"
    if r >= 1000:
        return f"{big(r)}×"
    if r >= 0.1:
        return f"{number(_sig(r, 2))}×"
    return one_in(r)


def points(value: float | None, base: float | None) -> str:
    """The difference of two shares in percentage points ("+12 pts", "-3.5 pts", "same")."""
    if value is None or base is None:
        return MISSING
    d = (value - base) * 100
    if abs(d) < 0.005:
        return "same"
    return f"{'+' if d > 0 else '-'}{number(_sig(abs(d), 3))} pts"


def duration(seconds: float | None) -> str:
    """A span of time: "2.7 s", "8 min 4 s", "1 h 02 min"."""
    if seconds is None:
        return MISSING
    s = float(seconds)
    if s < 0:
        return "-" + duration(-s)
    if s < 60:
        return f"{number(s)} s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{m} min" if r == 0 else f"{m} min {r} s"
    h, r = divmod(round(s / 60), 60)
    return f"{h} h" if r == 0 else f"{h} h {r:02d} min"


def clock(ts: float, offset_hours: float = 8.0) -> str:
    """A Unix time as local wall-clock time ("22:01:38") at the scenario's UTC offset."""
    tz = timezone(timedelta(hours=offset_hours))
    return datetime.fromtimestamp(ts, tz=tz).strftime("%H:%M:%S")


def offset_of(iso: str | None, default: float = 8.0) -> float:
    """The UTC offset, in hours, of an ISO time with an offset ("2025-12-22T22:00:00+08:00" -> 8.0)."""
    if not iso:
        return default
    try:
        off = datetime.fromisoformat(iso).utcoffset()
    except (TypeError, ValueError):
        return default
    return off.total_seconds() / 3600 if off is not None else default
