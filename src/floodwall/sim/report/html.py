"""The report as one self-contained HTML page: no scripts, no fonts, no network; plots inline."""

from __future__ import annotations

from floodwall.sim.report.sections import BACKTEST_SECTIONS, REPLAY_SECTIONS, e
from floodwall.sim.report.text import is_backtest

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1040px; padding: 0 1rem; color: #222;
       line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
nav ol { columns: 2; font-size: 14px; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 14px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25rem .6rem; text-align: left; vertical-align: top; }
table.figures td:not(:first-child), table.figures th:not(:first-child) { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: #f4f4f4; }
td a { color: inherit; text-decoration: underline dotted; }
dt { font-weight: 600; margin-top: .6rem; } dd { margin-left: 1.2rem; }
.unit { font-weight: normal; color: #666; }
.note, figcaption { color: #555; font-size: 13px; }
.none { color: #666; font-style: italic; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: 13px; }
table.params td:first-child, table.rules td:first-child { font-family: ui-monospace, monospace; font-size: 13px; }
"""


def sections_for(report: dict):
    """The (id, title, builder) sections that apply to this report."""
    return BACKTEST_SECTIONS if is_backtest(report) else REPLAY_SECTIONS


def html_report(report: dict) -> str:
    """The page: a heading, a table of contents, then every section."""
    if is_backtest(report):
        heading = f"Backtest: {report['events_file']}"
    else:
        heading = f"Replay: {report['scenario']}"
    parts = [(sid, title, build(report)) for sid, title, build in sections_for(report)]
    toc = "".join(f'<li><a href="#{sid}">{e(title)}</a></li>' for sid, title, _ in parts)
    body = "".join(f'<section id="{sid}"><h2>{e(title)}</h2>{html}</section>' for sid, title, html in parts)
    policies = ", ".join(report["policies"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Floodwall {e(heading)}</title>
<style>{_CSS}</style></head><body>
<h1>Floodwall {e(heading)}</h1>
<p class="note">Policies: {e(policies)}.</p>
<nav><ol>{toc}</ol></nav>
{body}
</body></html>
"""
