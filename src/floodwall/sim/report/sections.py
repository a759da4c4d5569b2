"""The report page's sections: each takes the report's JSON and returns its HTML body."""

from __future__ import annotations

from html import escape

from floodwall.sim.report import format as fmt
from floodwall.sim.report import plots
from floodwall.sim.report.metrics import ACTIONS, TERMS, get
from floodwall.sim.report.text import is_backtest, metrics_for, rows


def e(x: object) -> str:
    """HTML-escaped text of anything."""
    return escape(str(x))


def figure(svg: str | None, alt: str, caption: str) -> str:
    """An inline SVG figure (selectable text, no external file), or a note that there is no data."""
    if svg is None:
        return f'<p class="none">No data for "{e(alt)}" in this report.</p>'
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{e(alt)}" ', 1)
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def table(header: list[str], body: list[list[str]], cls: str = "", raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    cell = (lambda c: c) if raw else e
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in body)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>'


def offset_hours(report: dict) -> float:
    """The scenario's UTC offset (times on the page are the platform's local time)."""
    return fmt.offset_of((report.get("scenario_params") or {}).get("start"))


def _names(report: dict) -> list[str]:
    return list(report["policies"])


# ---- sections ---------------------------------------------------------------------------------------------

def summary(report: dict) -> str:
    """Headline sentences, then every figure side by side with denominators and ratios to the baseline."""
    names = _names(report)
    base = names[0] if names else ""
    if is_backtest(report):
        intro = (f"Each policy ran over the events recorded in <code>{e(report['events_file'])}</code>"
                 + (f", judged against the labels in <code>{e(report['labels_file'])}</code>."
                    if report.get("labels_file") else "; without a labels file only counts can be shown."))
    else:
        intro = (f"Scenario <b>{e(report['scenario'])}</b> at scale {fmt.number(report['scale'])} "
                 f"(a {fmt.percent(report['scale'])} slice of the platform), seed {e(report['seed'])}. "
                 "Every policy played the same plan; a room taken down stops sending events, as on a real "
                 "platform.")
    intro += f" <b>{e(base)}</b> is the baseline: the last columns compare each other policy with it."
    lines = []
    for n in names[1:]:
        a, b = report["policies"][n], report["policies"][base]
        if is_backtest(report):
            continue
        lines.append(
            f"<li><b>{e(n)}</b>: exposure {e(fmt.number(a.get('exposure_viewer_minutes')))} viewer-minutes against "
            f"{e(fmt.number(b.get('exposure_viewer_minutes')))} "
            f"({e(fmt.ratio(a.get('exposure_viewer_minutes'), b.get('exposure_viewer_minutes')))}); median time to "
            f"takedown {e(fmt.duration(get(a, 'ttd_seconds.median')))} against "
            f"{e(fmt.duration(get(b, 'ttd_seconds.median')))}; honest rooms interrupted "
            f"{e(fmt.share(a.get('legit_streams_wrongly_interrupted'), a.get('legit_streams')))} against "
            f"{e(fmt.share(b.get('legit_streams_wrongly_interrupted'), b.get('legit_streams')))}.</li>")
    rs = rows(report)
    defs = {m.label: m for m in metrics_for(report)}
    body = []
    for r in rs[1:]:
        m = defs[r[0]]
        arrow = {"lower": " ↓", "higher": " ↑"}.get(m.better, "")
        body.append([f'<a href="#def-{e(m.key)}" title="{e(m.definition)}">{e(r[0])}</a>{arrow}']
                    + [e(c) for c in r[1:]])
    return (f"<p>{intro}</p>" + (f"<ul>{''.join(lines)}</ul>" if lines else "")
            + table(rs[0], body, "figures", raw=True)
            + '<p class="note">↓ lower is better, ↑ higher is better; rows without an arrow give context. '
              "“x of y” is a count out of its total. Each row's name links to its definition.</p>")


def definitions(report: dict) -> str:
    """Every metric and term on the page, defined."""
    items = []
    for m in metrics_for(report):
        better = {"lower": "Lower is better.", "higher": "Higher is better."}.get(m.better, "")
        items.append(f'<dt id="def-{e(m.key)}">{e(m.label)} <span class="unit">({e(m.unit)})</span></dt>'
                     f"<dd>{e(m.definition)} {better}</dd>")
    replay_only = ("incident level", "probation", "held go-live / registration")
    for term, text in TERMS.items():
        if is_backtest(report) and term in replay_only:
            continue  # a backtest's engine runs without incident response
        items.append(f"<dt>{e(term)}</dt><dd>{e(text)}</dd>")
    return f"<dl>{''.join(items)}</dl>"


def ttd(report: dict) -> str:
    """The distribution of times to takedown, and its percentiles with their denominators."""
    body = []
    for n, res in report["policies"].items():
        t = res.get("ttd_seconds") or {}
        removed = t.get("count", 0)
        total = res.get("attack_streams", res.get("labelled_attack_streams"))
        body.append([n, fmt.share(removed, total), fmt.duration(t.get("median")), fmt.duration(t.get("p90")),
                     fmt.duration(t.get("p99")), fmt.duration(t.get("max"))])
    if not any(res.get("ttd_seconds") for res in report["policies"].values()):
        return ('<p class="none">No time to takedown: it needs the truth (a replay) or a labels file '
                "(a backtest with <code>--labels</code>).</p>")
    return (figure(plots.ttd_distribution(report), "time-to-takedown distribution",
                   "Each line rises at the time one removed attack room went down; the further left, the "
                   "faster. The axis is logarithmic so that seconds and tens of minutes both show.")
            + table(["policy", "attack rooms removed", "median", "90th percentile", "99th percentile", "slowest"],
                    body))


def over_time(report: dict) -> str:
    """The night minute by minute: attack rooms live, exposure, honest rooms live."""
    off = offset_hours(report)
    out = []
    for key, title, ylabel, log in plots.SERIES:
        cap = f"{title}; every policy on the same plan."
        if log:
            cap += f" Logarithmic axis: a policy near zero stays visible (a zero is drawn at {plots.FLOOR:g})."
        out.append(figure(plots.series(report, key, title, ylabel, log, off), title, e(cap)))
    return "".join(out)


def review_queue(report: dict) -> str:
    """Open review items over time, and what the queue cost."""
    body = [[n, fmt.count(res.get("review_items")), fmt.count(res.get("review_queue_max")),
             f"{fmt.number(res['reviewer_hours'])} h" if res.get("reviewer_hours") is not None else fmt.MISSING]
            for n, res in report["policies"].items()]
    return (figure(plots.review_queue(report, offset_hours(report)), "review queue depth",
                   "Items waiting for a reviewer at the end of each minute (symmetric log axis: 0, 1 and "
                   "1,000 all show).")
            + table(["policy", "review items created", "deepest queue", "reviewer time"], body))


def timeline(report: dict) -> str:
    """Each policy's incident level changes, with the reason the detector (or an operator) gave."""
    off = offset_hours(report)
    out = []
    for n, res in report["policies"].items():
        changes = res.get("incident_levels")
        if changes is None:
            out.append(f'<h3>{e(n)}</h3><p class="none">This policy has no incident response.</p>')
            continue
        if not changes:
            out.append(f"<h3>{e(n)}</h3><p>The level stayed normal all night.</p>")
            continue
        out.append(f"<h3>{e(n)}</h3>" + table(
            ["local time", "level", "set by", "why"],
            [[fmt.clock(c["t"], off), c["level"], "detector" if c.get("source") == "auto" else c.get("source", ""),
              c.get("why", "")] for c in changes], "timeline"))
    return "".join(out)


def actions(report: dict) -> str:
    """Orders given to the platform, by type, side by side."""
    names = _names(report)
    kinds = sorted({k for res in report["policies"].values() for k in (res.get("actions") or {})})
    if not kinds:
        return '<p class="none">No policy gave any order.</p>'
    body = [[k] + [fmt.count((report["policies"][n].get("actions") or {}).get(k, 0)) for n in names]
            + [ACTIONS.get(k, "")] for k in kinds]
    return (table(["action"] + names + ["what it does"], body)
            + '<p class="note">Orders as given; an order for a room that had already ended changes nothing.</p>')


def probation(report: dict) -> str:
    """Probation, held go-lives and registrations, and the owner-message outbox."""
    names = _names(report)
    if not any("probation" in report["policies"][n] for n in names):
        return '<p class="none">No policy here has an incident playbook (no probation or holds).</p>'
    rows_ = [
        ("rooms put on probation", lambda r: fmt.count(get(r, "probation.started"))),
        ("probations lifted after clean frames", lambda r: fmt.count(get(r, "probation.lifted"))),
        ("go-lives held", lambda r: fmt.count(get(r, "probation.held_golives"))),
        ("registrations held", lambda r: fmt.count(get(r, "probation.held_registrations"))),
        ("owner messages sent", lambda r: fmt.count(get(r, "notify_outbox.sent"))),
        ("owner messages still pending", lambda r: fmt.count(get(r, "notify_outbox.pending"))),
        ("owner messages given up (dead)", lambda r: fmt.count(get(r, "notify_outbox.dead"))),
        ("honest owners messaged", lambda r: fmt.count(r.get("honest_owners_notified"))),
    ]
    return table(["", *names], [[label] + [f(report["policies"][n]) for n in names] for label, f in rows_])


def rules(report: dict) -> str:
    """Which rule (or playbook step, or person) ordered what, and what shadow rules would have done."""
    out = ['<p>Each order is counted under every rule that fired for it. “attack” and “honest” judge the '
           "targets against the truth (a replay) or the labels (a backtest); an account-level order in a backtest "
           "cannot be judged.</p>"]
    for n, res in report["policies"].items():
        attr = res.get("rule_attribution")
        out.append(f"<h3>{e(n)}</h3>")
        if attr is None:
            out.append('<p class="none">This report\'s JSON has no rule attribution (made by an older build).</p>')
        elif not attr:
            out.append("<p>No orders.</p>")
        else:
            ranked = sorted(((src, action, row) for src, acts in attr.items() for action, row in acts.items()),
                            key=lambda x: (x[1] != "takedown", x[1], -x[2]["targets"], x[0]))
            body = [[src, row.get("source", ""), action, fmt.count(row["orders"]), fmt.count(row["targets"]),
                     fmt.count(row.get("attack")), fmt.count(row.get("honest"))] for src, action, row in ranked]
            out.append(table(["rule or source", "kind", "action", "orders", "distinct rooms / accounts", "attack",
                              "honest"], body, "rules"))
        shadow = res.get("shadow_rules") or {}
        hits = res.get("shadow_rule_hits") or {}
        if shadow or hits:
            out.append(table(["shadow rule", "hits", "subjects", "attack", "honest"],
                             [[r, fmt.count(hits.get(r)), fmt.count((shadow.get(r) or {}).get("subjects")),
                               fmt.count((shadow.get(r) or {}).get("attack")),
                               fmt.count((shadow.get(r) or {}).get("honest"))] for r in sorted(set(shadow) | set(hits))],
                             "shadow"))
        else:
            out.append('<p class="note">No shadow rules in this policy (a shadow rule is counted here, never '
                       "obeyed).</p>")
    return "".join(out)


def _flatten(d: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(d, dict):
        out: list[tuple[str, object]] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, d)]


def scenario(report: dict) -> str:
    """The scenario's parameters as played (defaults filled in)."""
    params = report.get("scenario_params")
    if params is None:
        return '<p class="none">This report\'s JSON has no scenario parameters (made by an older build).</p>'
    desc = params.get("description") or ""
    body = [[k, v if isinstance(v, str) else str(v)] for k, v in _flatten(params) if k != "description"]
    return ((f"<p>{e(desc)}</p>" if desc else "")
            + f"<p>Counts marked “at scale 1” were multiplied by the scale, {fmt.number(report['scale'])}.</p>"
            + table(["parameter", "value"], body, "params"))


def inputs(report: dict) -> str:
    """A backtest's inputs and the events it rejected."""
    body = [[n, fmt.count(res.get("events")), fmt.count(res.get("dead_letters"))]
            for n, res in report["policies"].items()]
    out = [f"<p>Events: <code>{e(report['events_file'])}</code>. Labels: "
           + (f"<code>{e(report['labels_file'])}</code>" if report.get("labels_file") else "none") + ".</p>",
           table(["policy", "events handled", "events rejected"], body)]
    first = next(iter(report["policies"].values()), {})
    if first.get("dead_letter_examples"):
        out.append(table(["line", "field", "reason"],
                         [[d["line"], d["field"], d["reason"]] for d in first["dead_letter_examples"]]))
    return "".join(out)


def reproduce(report: dict) -> str:
    """Build, seeds and the command: enough to play the same report again."""
    b = report.get("build") or {}
    commit = b.get("commit") or "unknown (not run from a git checkout)"
    if b.get("dirty"):
        commit += " (with uncommitted changes)"
    body = [["Floodwall version", b.get("version", fmt.MISSING)], ["build commit", commit],
            ["Python", b.get("python", fmt.MISSING)]]
    if not is_backtest(report):
        body += [["seed (--seed)", str(report.get("seed"))]]
        body += [[f"seed of the {k}", str(v)] for k, v in (report.get("seeds") or {}).items()]
        body += [["scale (--scale)", fmt.number(report.get("scale"))]]
    cmd = report.get("command") or "(not recorded)"
    return table(["", ""], body, "build") + f"<p>Command:</p><pre><code>{e(cmd)}</code></pre>"


# (id, title, builder) in page order
REPLAY_SECTIONS = [
    ("summary", "At a glance", summary),
    ("definitions", "What the numbers mean", definitions),
    ("ttd", "Time to takedown", ttd),
    ("over-time", "The night minute by minute", over_time),
    ("review-queue", "Review queue over time", review_queue),
    ("timeline", "Incident level timeline", timeline),
    ("actions", "Actions by type", actions),
    ("probation", "Probation, holds and owner messages", probation),
    ("rules", "Rule attribution", rules),
    ("scenario", "Scenario parameters", scenario),
    ("reproduce", "Build, seeds and command", reproduce),
]

BACKTEST_SECTIONS = [
    ("summary", "At a glance", summary),
    ("definitions", "What the numbers mean", definitions),
    ("ttd", "Time to takedown", ttd),
    ("actions", "Actions by type", actions),
    ("rules", "Rule attribution", rules),
    ("inputs", "Events and rejects", inputs),
    ("reproduce", "Build and command", reproduce),
]
