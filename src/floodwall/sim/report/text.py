"""The console table: every policy side by side, with denominators and readable ratios to the baseline."""

from __future__ import annotations

from floodwall.sim.report import format as fmt
from floodwall.sim.report.metrics import BACKTEST, REPLAY, Metric, numeric, show


def is_backtest(report: dict) -> bool:
    """A backtest of recorded events (no scenario, no truth beyond the labels)."""
    return "events_file" in report and "scenario" not in report


def metrics_for(report: dict) -> list[Metric]:
    """The rows that apply to this kind of report."""
    return BACKTEST if is_backtest(report) else REPLAY


def rows(report: dict) -> list[list[str]]:
    """Header and rows: metric, each policy's value, then each later policy against the baseline."""
    names = list(report["policies"])
    base = names[0] if names else ""
    header = ["metric"] + names + [f"{n} vs {base}" for n in names[1:]]
    out = [header]
    for m in metrics_for(report):
        results = [report["policies"][n] for n in names]
        if all(numeric(m, r) is None for r in results):
            continue  # nothing measured it (e.g. truth-based rows of a backtest without labels)
        vals = [numeric(m, r) for r in results]
        # A share compares by difference (percentage points): "+100 pts" reads better than a ratio of shares.
        versus = fmt.points if m.unit == "share" else fmt.ratio
        out.append([m.label] + [show(m, r) for r in results] + [versus(v, vals[0]) for v in vals[1:]])
    return out


def title(report: dict) -> str:
    """One line naming what was played."""
    if is_backtest(report):
        labels = report.get("labels_file")
        return f"backtest of {report['events_file']}" + (f" with labels {labels}" if labels else " (no labels)")
    return f"scenario {report['scenario']}  seed {report['seed']}  scale {report['scale']:g}"


def table(report: dict) -> str:
    """The policies side by side as aligned text (the first policy is the baseline)."""
    lines = rows(report)
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    out = [title(report)]
    for j, row in enumerate(lines):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    if not is_backtest(report) or len(lines[0]) > 2:
        out.append("x of y: a count out of its total; vs: the policy's figure against the baseline's "
                   "(\"1 in 1,000\" = a thousandth of it). The HTML report defines every row.")
    return "\n".join(out)
