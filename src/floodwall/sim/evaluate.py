"""`floodwall eval`: every family x seed of the scenario library, baseline against a policy, as a matrix of bars.

Each cell is one replay of one family at one seed, the baseline and the policy on the same plan. The
bars are issue 3's: exposure at least 100 times lower than the baseline, time to takedown median at
most 5 s and p99 at most 30 s, no attack room left up, at most 0.1% of honest rooms interrupted, and
no room of a report storm's targets interrupted.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

from floodwall.progress import tqdm

EXPOSURE_RATIO_MAX = 0.01
TTD_MEDIAN_MAX = 5.0
TTD_P99_MAX = 30.0
HONEST_SHARE_MAX = 0.001
COLUMNS = [  # key, header
    ("exposure_ratio", "exposure vs base"),
    ("ttd_median", "ttd med s"),
    ("ttd_p99", "ttd p99 s"),
    ("never_removed", "never removed"),
    ("honest_interrupted", "honest interrupted"),
    ("storm_targets_interrupted", "storm targets interrupted"),
    ("co_broadcast_interrupted", "co-broadcast interrupted"),
    ("review_items", "review items"),
    ("reports_dropped", "reports dropped"),
    ("principals_flagged", "principals flagged (attack/all)"),
]


def cell(family: str, seed: int, scale: float, policies: tuple[str, str]) -> dict:
    """One family at one seed: the baseline and the policy on the same plan, reduced to the bars."""
    from floodwall.sim.replay import run_replay
    from floodwall.sim.scenario import load_scenario

    t = time.perf_counter()
    report = run_replay(load_scenario(family), policies, seed=seed, scale=scale, progress=False)
    base, pol = (report["policies"][p] for p in report["policies"])
    return {"family": family, "seed": seed, **bars(base, pol), "wall_seconds": round(time.perf_counter() - t, 1)}


def bars(base: dict, pol: dict) -> dict:
    """The matrix's figures of one cell and which bars they meet (None: nothing to judge)."""
    ttd = pol["ttd_seconds"]
    exp_b, exp_p = base["exposure_viewer_minutes"], pol["exposure_viewer_minutes"]
    ratio = exp_p / exp_b if exp_b > 0 else None
    honest = pol["legit_streams"]
    out = {
        "attack_streams": pol["attack_streams"],
        "exposure": exp_p,
        "exposure_base": exp_b,
        "exposure_ratio": ratio,
        "ttd_median": ttd["median"],
        "ttd_p99": ttd["p99"],
        "never_removed": pol["attack_streams_never_removed"],
        "honest": honest,
        "honest_interrupted": pol["legit_streams_wrongly_interrupted"],
        "honest_interrupted_base": base["legit_streams_wrongly_interrupted"],
        "storm_targets": pol["false_report_targets"],
        "storm_targets_interrupted": pol["false_report_targets_interrupted"],
        "co_broadcast_rooms": pol.get("co_broadcast_rooms", 0),
        "co_broadcast_interrupted": pol.get("co_broadcast_rooms_interrupted", 0),
        "review_items": pol["review_items"],
        "review_items_base": base["review_items"],
        "reports_dropped": pol["reports_dropped"],
        "attack_principals": pol.get("attack_principals", 0),
        "principals_flagged": pol.get("principals_flagged", 0),
        "attack_principals_flagged": pol.get("attack_principals_flagged", 0),
    }
    attack = pol["attack_streams"] > 0
    out["pass"] = {
        "exposure_ratio": (ratio is not None and ratio <= EXPOSURE_RATIO_MAX) if attack else None,
        "ttd_median": (ttd["median"] is not None and ttd["median"] <= TTD_MEDIAN_MAX) if attack else None,
        "ttd_p99": (ttd["p99"] is not None and ttd["p99"] <= TTD_P99_MAX) if attack else None,
        "never_removed": out["never_removed"] == 0 if attack else None,
        "honest_interrupted": out["honest_interrupted"] <= HONEST_SHARE_MAX * honest,
        "storm_targets_interrupted": out["storm_targets_interrupted"] == 0 if out["storm_targets"] else None,
    }
    out["all_pass"] = all(v for v in out["pass"].values() if v is not None)
    return out


def run_eval(families: Iterable[str], seeds: Iterable[int], *, scale: float, policies: tuple[str, str],
             jobs: int = 1, progress: bool = True, on_cell: Callable[[dict], None] | None = None) -> dict:
    """Play every family x seed (``jobs`` > 1: in that many processes) and return the matrix as JSON-ready data."""
    work = [(f, s) for f in families for s in seeds]
    cells: list[dict] = []
    bar = tqdm(total=len(work), desc="eval", unit="cell", disable=not progress, leave=False)
    t0 = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = [pool.submit(cell, f, s, scale, policies) for f, s in work]
            for fut in futs:
                cells.append(fut.result())
                bar.update(1)
                if on_cell:
                    on_cell(cells[-1])
    else:
        for f, s in work:
            cells.append(cell(f, s, scale, policies))
            bar.update(1)
            if on_cell:
                on_cell(cells[-1])
    bar.close()
    return {"scale": scale, "policies": list(policies), "cells": cells,
            "wall_seconds": round(time.perf_counter() - t0, 1)}


def _fmt(key: str, c: dict) -> str:
    v = c.get(key)
    if key == "exposure_ratio":
        return "-" if v is None else (f"1/{1 / v:,.0f}" if v > 0 else "0")
    if key in ("ttd_median", "ttd_p99"):
        return "-" if v is None else f"{v:.1f}"
    if key == "honest_interrupted":
        return f"{v}/{c['honest']}"
    if key == "storm_targets_interrupted":
        return f"{v}/{c['storm_targets']}" if c["storm_targets"] else "-"
    if key == "co_broadcast_interrupted":
        return f"{v}/{c['co_broadcast_rooms']}" if c["co_broadcast_rooms"] else "-"
    if key == "principals_flagged":
        return f"{c['attack_principals_flagged']}/{c['attack_principals']} ({v})" if c["attack_principals"] else f"- ({v})"
    return str(v)


def _mark(key: str, c: dict) -> str:
    ok = c["pass"].get(key)
    return "" if ok is None else ("" if ok else " X")


def matrix_text(result: dict) -> str:
    """The matrix as a fixed-width table; X marks a missed bar."""
    head = ["family", "seed", *[h for _, h in COLUMNS], "bars"]
    rows = [[c["family"], str(c["seed"]), *[_fmt(k, c) + _mark(k, c) for k, _ in COLUMNS],
             "met" if c["all_pass"] else "MISSED"] for c in result["cells"]]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    out = [line(head), line(["-" * w for w in widths]), *map(line, rows)]
    met = sum(c["all_pass"] for c in result["cells"])
    out.append(f"{met} of {len(rows)} cells meet every bar (X: missed; exposure vs base = {result['policies'][1]} "
               f"over {result['policies'][0]}; scale {result['scale']:g})")
    return "\n".join(out)


def matrix_html(result: dict, title: str = "floodwall eval") -> str:
    """The matrix as one self-contained HTML page, missed bars in red."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ["family", "seed", *[h for _, h in COLUMNS], "bars"])
    body = []
    for c in result["cells"]:
        tds = [f"<td>{e(c['family'])}</td>", f"<td>{c['seed']}</td>"]
        for k, _ in COLUMNS:
            ok = c["pass"].get(k)
            cls = "" if ok is None else (' class="ok"' if ok else ' class="bad"')
            tds.append(f"<td{cls}>{e(_fmt(k, c))}</td>")
        tds.append(f'<td class="{"ok" if c["all_pass"] else "bad"}">{"met" if c["all_pass"] else "missed"}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    met = sum(c["all_pass"] for c in result["cells"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} td:first-child{{text-align:left}}
.ok{{background:#e6f4ea}} .bad{{background:#fce8e6;font-weight:bold}}</style></head><body>
<h1>{e(title)}</h1>
<p>{e(result['policies'][1])} against the baseline {e(result['policies'][0])}, scale {result['scale']:g},
{len(result['cells'])} cells, {met} meet every bar. Bars: exposure at most 1/100 of the baseline's, time to
takedown median at most 5 s and p99 at most 30 s, no attack room left up, at most 0.1% of honest rooms
interrupted, no report-storm target interrupted. Green: met; red: missed; blank: nothing to judge.</p>
<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<p>Command: <code>{e(result.get('command', ''))}</code></p></body></html>
"""
