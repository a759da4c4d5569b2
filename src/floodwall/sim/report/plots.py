"""The report's figures, as SVG text: series over the night, the time-to-takedown distribution, the review queue.

Every axis where one policy's figures are thousands of times another's is logarithmic, so that the
better policy's line is not drawn flat on zero; zeros are drawn at the axis floor and the caption says so.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from floodwall.sim.report import format as fmt

FLOOR = 0.01  # where zero sits on a log axis (the caption says so)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "floodwall-report"  # stable ids: the same report, the same bytes
    import matplotlib.pyplot as plt

    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    _plt().close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _time_axis(ax, offset_hours: float) -> None:
    import matplotlib.dates as mdates

    tz = timezone(timedelta(hours=offset_hours))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    sign = "+" if offset_hours >= 0 else "-"
    ax.set_xlabel(f"local time (UTC{sign}{fmt.number(abs(offset_hours))})")


def series(report: dict, key: str, title: str, ylabel: str, log: bool, offset_hours: float) -> str | None:
    """One per-minute series of every policy on a shared time axis (None when no policy has it)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=100)
    drawn = False
    for name, res in report["policies"].items():
        s = res.get("series", {})
        ys = s.get(key)
        if not ys:
            continue
        t0 = datetime.fromtimestamp(s["minute_start"], tz=timezone.utc)
        xs = [t0 + timedelta(minutes=i) for i in range(len(ys))]
        ax.plot(xs, [max(y, FLOOR) for y in ys] if log else ys, label=name, linewidth=1.6, drawstyle="steps-post")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    if log:
        ax.set_yscale("log")
        ylabel += " (log)"
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _time_axis(ax, offset_hours)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def ttd_distribution(report: dict) -> str | None:
    """Share of removed attack rooms taken down within x seconds (x on a log axis), one line per policy."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    drawn = False
    for name, res in report["policies"].items():
        vals = sorted(res.get("ttd_seconds_values") or [])
        if not vals:
            continue
        n = len(vals)
        xs = [max(v, FLOOR) for v in vals]
        ys = [(i + 1) / n for i in range(n)]
        median = (res.get("ttd_seconds") or {}).get("median")
        ax.step(xs, ys, where="post", label=f"{name} ({fmt.count(n)} removed, median {fmt.duration(median)})",
                linewidth=1.8)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fmt.duration(x)))  # "10 s", not 10^1
    for x, label in ((60, "1 min"), (600, "10 min")):
        ax.axvline(x, color="#888", linestyle=":", linewidth=1)
        ax.text(x, 0.02, f" {label}", color="#555", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_title("Time to takedown: share of removed attack rooms down within x")
    ax.set_xlabel("seconds from the room's first frame (log)")
    ax.set_ylabel("share of removed rooms")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def review_queue(report: dict, offset_hours: float) -> str | None:
    """Open review items at the end of each minute (symmetric log: 0 and 1 stay apart from 1,000)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=100)
    drawn = False
    for name, res in report["policies"].items():
        s = res.get("series", {})
        ys = s.get("review_queue_depth")
        if not ys:
            continue
        t0 = datetime.fromtimestamp(s["minute_start"], tz=timezone.utc)
        xs = [t0 + timedelta(minutes=i + 1) for i in range(len(ys))]  # sampled at each minute's end
        ax.plot(xs, ys, label=name, linewidth=1.6, drawstyle="steps-post")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    ax.set_title("Review queue: items waiting for a person")
    ax.set_ylabel("open items (symlog)")
    _time_axis(ax, offset_hours)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    return _svg(fig)


# (series key, title, y label, log axis)
SERIES = [
    ("live_attack_streams", "Attack rooms live (average over each minute)", "rooms", True),
    ("exposure_viewer_minutes", "Exposure: viewer-minutes of attack content in each minute", "viewer-minutes",
     True),
    ("live_legit_streams", "Honest rooms live", "rooms", False),
]
