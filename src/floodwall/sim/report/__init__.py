"""Replay and backtest reports: a console table (text), and a self-contained HTML page (html) people read."""

from floodwall.sim.report.html import html_report
from floodwall.sim.report.text import table

__all__ = ["html_report", "table"]
