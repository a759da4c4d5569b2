"""The replay report: a side-by-side table in the terminal, and an HTML page with plots."""

from __future__ import annotations

import html
import io
from datetime import datetime, timedelta, timezone

ROWS = [
    ("exposure_viewer_minutes", "exposure (viewer-minutes)", "lower"),
    ("ttd_seconds.median", "time to takedown, median (s)", "lower"),
    ("ttd_seconds.p90", "time to takedown, p90 (s)", "lower"),
    ("ttd_seconds.p99", "time to takedown, p99 (s)", "lower"),
    ("ttd_seconds.max", "time to takedown, max (s)", "lower"),
    ("attack_streams", "attack streams", ""),
    ("attack_streams_never_removed", "attack streams never removed", "lower"),
    ("legit_streams", "honest streams", ""),
    ("legit_streams_wrongly_interrupted", "honest streams interrupted", "lower"),
    ("false_report_targets_interrupted", "mass-reported merchants interrupted", "lower"),
    ("legit_streams_limited", "honest streams limited (kept off recommendations)", "lower"),
    ("legit_streamer_minutes_lost", "honest streamer-minutes lost", "lower"),
    ("review_items", "review items", "lower"),
    ("review_queue_max", "review queue, max depth", "lower"),
    ("reviewer_hours", "reviewer hours", "lower"),
    ("reports_received", "reports received", ""),
    ("reports_dropped", "reports dropped", "lower"),
    ("reports_stored", "reports stored", ""),
    ("hijacked_owners_notified", "hijacked owners notified", ""),
    ("hijacked_owners_notified_fraction", "hijacked owners messaged (share, via outbox)", "higher"),
    ("notify_delay_seconds.median", "owner message delay, median (s)", "lower"),
    ("notify_delay_seconds.p99", "owner message delay, p99 (s)", "lower"),
    ("incident_levels", "incident level changes", ""),
    ("rings", "rings found", ""),
    ("events", "events", ""),
    ("frames", "frames", ""),
    ("frames_hashed", "frames hashed", ""),
    ("wall_seconds", "wall seconds", ""),
]


def _get(d: dict, path: str):
    for part in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)  # type: ignore[assignment]
    return d


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, list):  # a timeline: how many entries
        return f"{len(x):,}"
    if isinstance(x, float):
        return f"{x:,.1f}" if abs(x) >= 100 else f"{x:,.3g}"
    return f"{x:,}"


def table(report: dict) -> str:
    """The policies side by side, with each policy's ratio to the first (the baseline)."""
    names = list(report["policies"])
    base = names[0]
    header = ["metric"] + names + [f"{n}/{base}" for n in names[1:]]
    lines = [header]
    for key, label, _ in ROWS:
        vals = [_get(report["policies"][n], key) for n in names]
        ratios = []
        for v in vals[1:]:
            b = vals[0]
            ratios.append(f"{v / b:.4g}" if isinstance(v, (int, float)) and isinstance(b, (int, float)) and b else "-")
        lines.append([label] + [_fmt(v) for v in vals] + ratios)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = [f"scenario {report['scenario']}  seed {report['seed']}  scale {report['scale']}"]
    for j, row in enumerate(lines):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def plots(report: dict, fmt: str = "svg") -> list[tuple[str, str | bytes]]:
    """The report's figures: (title, SVG text or PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    specs = [
        ("live_attack_streams", "Live attack streams", "rooms live (average over each minute)", False),
        ("exposure_viewer_minutes", "Exposure per minute", "viewer-minutes of attack content (log)", True),
        ("live_legit_streams", "Honest streams live", "honest rooms broadcasting", False),
    ]
    for key, title, ylabel, log in specs:
        fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
        for name, res in report["policies"].items():
            series = res.get("series", {})
            ys = series.get(key)
            if not ys:
                continue
            t0 = datetime.fromtimestamp(series["minute_start"], tz=timezone(timedelta(hours=8)))
            xs = [t0 + timedelta(minutes=i) for i in range(len(ys))]
            ax.plot(xs, [max(y, 1e-3) if log else y for y in ys], label=name, linewidth=1.6)
        if log:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("local time (UTC+8)")
        ax.grid(alpha=0.3)
        ax.legend()
        import matplotlib.dates as mdates

        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=timezone(timedelta(hours=8))))
        fig.tight_layout()
        if fmt == "png":
            raw = io.BytesIO()
            fig.savefig(raw, format="png")
            figs.append((title, raw.getvalue()))
        else:
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            svg = buf.getvalue()
            figs.append((title, svg[svg.index("<svg"):]))
        plt.close(fig)
    return figs


def html_report(report: dict) -> str:
    """A self-contained HTML page: the table and the plots."""
    rows = table(report).splitlines()
    figures = "\n".join(f"<figure>{svg}</figure>" for _, svg in plots(report))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Floodwall replay: {html.escape(report['scenario'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
pre {{ background: #f6f6f6; padding: 1rem; overflow-x: auto; font-size: 13px; }}
figure {{ margin: 1rem 0; }}
</style></head><body>
<h1>Replay: {html.escape(report['scenario'])}</h1>
<p>Seed {report['seed']}, scale {report['scale']}. The first policy is the baseline; ratios are to it.
Every policy played the same plan; a room taken down stops sending events, as on a real platform.</p>
<pre>{html.escape(chr(10).join(rows))}</pre>
{figures}
</body></html>
"""
